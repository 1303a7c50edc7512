import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import { createVhost, type TestVhost } from "@umos/testkit";
import { compileTopic } from "./topic-match";

const PATTERNS = [
  "#",
  "*",
  "a",
  "a.*",
  "a.#",
  "*.b",
  "#.b",
  "a.*.c",
  "a.#.c",
  "a.#.#.c",
  "#.a.#",
  "*.*",
  "a.*.#",
  "#.*",
  "",
  "iot.*.device.#",
  "iot.*.event.property.report",
];
const KEYS = [
  "",
  "a",
  "b",
  "a.b",
  "a.c",
  "a.b.c",
  "a.x.y.c",
  "a.",
  ".a",
  "a..c",
  "x.a.y",
  "a.b.c.d",
  "c",
  "iot.tuya.device",
  "iot.dji.device.property.report",
  "iot.device.x",
  "iot.a.b.device.x",
  "iot.dji.event.property.report",
  "iot.dji.event.property.report.extra",
];

describe("topic matching", () => {
  test.each([
    ["iot.*.device.#", "iot.generic.device.property.report", true],
    ["iot.*.device.#", "iot.generic.device", true],
    ["iot.*.device.#", "iot.device.x", false],
    ["iot.*.device.#", "iot.a.b.device.x", false],
    ["a.#.c", "a.c", true],
    ["a.#.c", "a.x.y.c", true],
    ["a.#.c", "a.x.y", false],
    ["#", "", true],
    ["*", "", false],
    ["a.*", "a.", true],
  ] as const)("%p vs %p is %p", (pattern, key, expected) => {
    expect(compileTopic(pattern)(key)).toBe(expected);
  });
});

describe("topic matching agrees with RabbitMQ", () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => await vhost.dispose());

  test("every pattern against every key routes as RabbitMQ's topic exchange does", async () => {
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("t", "topic", { durable: false });
    for (const [i, pattern] of PATTERNS.entries()) {
      await ch.assertQueue(`q${i}`, { durable: false });
      await ch.bindQueue(`q${i}`, "t", pattern);
    }
    for (const key of KEYS) ch.publish("t", key, Buffer.from(key));
    await ch.waitForConfirms();
    const rabbit: string[] = [];
    const ours: string[] = [];
    for (const [i, pattern] of PATTERNS.entries()) {
      for (let m = await ch.get(`q${i}`, { noAck: true }); m; m = await ch.get(`q${i}`, { noAck: true })) rabbit.push(`${pattern} <- ${m.content.toString()}`);
      for (const key of KEYS) if (compileTopic(pattern)(key)) ours.push(`${pattern} <- ${key}`);
    }
    await conn.close();
    expect(ours.sort()).toEqual(rabbit.sort());
  });
});
