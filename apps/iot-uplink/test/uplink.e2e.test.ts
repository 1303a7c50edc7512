import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import postgres from "postgres";
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, HEADERS } from "@umos/contracts";
import { createLogger, silentLogger } from "@umos/core";
import { createDatabase, createVhost, eventually, testConfig, type TestDatabase, type TestVhost, inProcess } from "@umos/testkit";
import type { App } from "@umos/runtime";
import { createApp } from "../src/app";

let vhost: TestVhost;
let database: TestDatabase;
let uplink: App;
let sql: postgres.Sql;
let conn: amqplib.ChannelModel;
let ch: amqplib.ConfirmChannel;
const seen: amqplib.ConsumeMessage[] = [];

beforeAll(async () => {
  [vhost, database] = await Promise.all([createVhost(), createDatabase()]);
  uplink = inProcess(createApp, testConfig({ busUrl: vhost.url, postgresUrl: database.url }), "iot-uplink", {
    log: process.env.TEST_LOG ? createLogger("uplink", { level: "debug" }) : silentLogger,
  });
  await uplink.start();
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  await sql`insert into devices (id, vendor) values ('s1', 'generic'), ('t1', 'tuya')`;
  conn = await amqplib.connect(vhost.url);
  ch = await conn.createConfirmChannel();
  // An app listening to everything the uplink republishes.
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(queue, EXCHANGE, "iot.*.event.#");
  await ch.bindQueue(queue, EXCHANGE, "iot.*.service.#");
  await ch.consume(queue, (m) => m && seen.push(m), { noAck: true });
});

afterAll(async () => {
  await conn.close();
  await sql.end();
  await uplink.stop();
  await Promise.all([vhost.dispose(), database.dispose()]);
});

async function sendFrame(deviceId: string, action: string, payload: string, messageId = Bun.randomUUIDv7()) {
  ch.publish(EXCHANGE, `iot.generic.device.${action}`, Buffer.from(payload), {
    messageId,
    persistent: true,
    headers: {
      [HEADERS.deviceId]: deviceId,
      [HEADERS.vendor]: "generic",
      [HEADERS.mqttTopic]: `generic/${deviceId}/${action.replace(".", "/")}`,
      [HEADERS.receivedAt]: Date.now(),
    },
  });
  await ch.waitForConfirms();
  return messageId;
}

/** The dead letter of a frame, as the uplink archived it from iot-dead-letter. */
async function deadLetter(messageId: string): Promise<{ code: string; reason: string; queue: string; payload: Buffer }> {
  return eventually(
    async () => (await sql`select code, reason, queue, payload from dead_letters where message_id = ${messageId}`)[0] as never,
    5000,
    "a dead letter",
  );
}

describe("iot-uplink", () => {
  test("a property report is stored once, updates the device's state and last-seen, and is republished normalized", async () => {
    const id = await sendFrame("s1", "property.report", '{"id":"r1","ts":1700000000000,"data":{"temp":21.5,"on":true}}');
    const out = await eventually(() => seen.find((m) => m.properties.messageId === id), 5000, "republished");
    expect(out.fields.routingKey).toBe("iot.generic.event.property.report");
    expect(JSON.parse(out.content.toString())).toEqual({
      id,
      ts: 1700000000000,
      vendor: "generic",
      deviceId: "s1",
      kind: "property.report",
      data: { temp: 21.5, on: true },
    });
    const log = await sql`select id, kind, data from message_log where device_id = 's1'`;
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id, kind: "property.report", data: { temp: 21.5, on: true } });
    const state = await sql`select property, value from device_state where device_id = 's1' order by property`;
    expect(state.map((r) => [r.property, r.value])).toEqual([
      ["on", true],
      ["temp", 21.5],
    ]);
    const [device] = await sql`select online, last_seen_at from devices where id = 's1'`;
    expect(device!.online).toBe(true);
    expect(device!.last_seen_at).toBeInstanceOf(Date);
  });

  test("a frame resent by the MQTT broker (same device id, new message-id) is stored and published once", async () => {
    const before = seen.length;
    const first = await sendFrame("s1", "property.report", '{"id":"dup-1","data":{"temp":22}}');
    await sendFrame("s1", "property.report", '{"id":"dup-1","data":{"temp":22}}');
    const marker = await sendFrame("s1", "event.report", '{"id":"after-dup","event":"door","data":{"open":true}}');
    await eventually(() => seen.some((m) => m.properties.messageId === marker), 5000, "later message republished");
    const published = seen.slice(before).filter((m) => m.fields.routingKey.endsWith("property.report"));
    expect(published.map((m) => m.properties.messageId)).toEqual([first]);
    const [dups] = await sql`select count(*)::int as count from message_log where dedupe_key = 'id:dup-1'`;
    expect(dups!.count).toBe(1);
  });

  test("an older report does not overwrite newer state", async () => {
    await sendFrame("s1", "property.report", '{"id":"new","ts":1800000000000,"data":{"level":9}}');
    const marker = await sendFrame("s1", "property.report", '{"id":"old","ts":1600000000000,"data":{"level":1}}');
    await eventually(() => seen.some((m) => m.properties.messageId === marker), 5000, "old report processed");
    const [row] = await sql`select value from device_state where device_id = 's1' and property = 'level'`;
    expect(row!.value).toBe(9);
  });

  test("a service reply goes to the downlink stage and a status frame sets presence", async () => {
    const reply = await sendFrame("s1", "service.reply", '{"correlationId":"c-1","code":0,"data":{"ok":1}}');
    const out = await eventually(() => seen.find((m) => m.properties.messageId === reply), 5000, "reply republished");
    expect(out.fields.routingKey).toBe("iot.generic.service.service.reply");
    expect(JSON.parse(out.content.toString())).toMatchObject({ kind: "service.reply", correlationId: "c-1", data: { code: 0, output: { ok: 1 } } });
    const status = await sendFrame("s1", "status", '{"state":"offline"}');
    const statusOut = await eventually(() => seen.find((m) => m.properties.messageId === status), 5000, "status republished");
    expect(statusOut.fields.routingKey).toBe("iot.generic.event.status.offline");
    const [device] = await sql`select online from devices where id = 's1'`;
    expect(device!.online).toBe(false);
  });

  test("a malformed frame is dead-lettered with a reason, and the uplink keeps serving", async () => {
    const dead = await deadLetter(await sendFrame("s1", "property.report", "{not json"));
    expect(dead).toMatchObject({ code: "malformed_json", queue: "iot-uplink-queue", payload: Buffer.from("{not json") });
    const invalid = await deadLetter(await sendFrame("s1", "property.report", '{"data":"temp=3"}'));
    expect(invalid.code).toBe("invalid_frame");
    expect(invalid.reason).toContain("/data");
    const ok = await sendFrame("s1", "property.report", '{"id":"still-alive","data":{"temp":1}}');
    await eventually(() => seen.some((m) => m.properties.messageId === ok), 5000, "still serving");
  });

  test("frames from unregistered devices, or under another vendor's name, are dead-lettered", async () => {
    expect((await deadLetter(await sendFrame("ghost", "property.report", '{"data":{"temp":1}}'))).code).toBe("unknown_device");
    expect((await deadLetter(await sendFrame("t1", "property.report", '{"data":{"temp":1}}'))).code).toBe("vendor_mismatch");
  });

  test("the dead-letter queue is archived: a redelivered dead letter is stored once, and RabbitMQ's own dead letters too", async () => {
    const headers = {
      [HEADERS.deadLetterCode]: "invalid_frame",
      [HEADERS.deadLetterReason]: "x",
      [HEADERS.deadLetterQueue]: "iot-uplink-queue",
      [HEADERS.deviceId]: "s1",
    };
    // The same message twice, as after an archiver crash between its commit and its ack.
    for (let i = 0; i < 2; i++) ch.publish(DEAD_LETTER_EXCHANGE, "iot.generic.device.status", Buffer.from("\u0000\xff"), { messageId: "dl-twice", headers });
    ch.publish(DEAD_LETTER_EXCHANGE, "iot.generic.event.status.online", Buffer.from("{}"), {
      messageId: "dl-rabbit",
      headers: {
        "x-first-death-queue": "iot-ws-queue.a",
        "x-first-death-reason": "expired",
        "x-death": [{ queue: "iot-ws-queue.a", reason: "expired", count: 1 }],
      },
    });
    await ch.waitForConfirms();
    const rabbit = await deadLetter("dl-rabbit");
    expect(rabbit).toMatchObject({ code: "rabbitmq_expired", queue: "iot-ws-queue.a" });
    await eventually(async () => (await sql`select count(*)::int as n from dead_letters where message_id = 'dl-twice'`)[0]!.n === 1, 5000, "archived");
    // Both were consumed (acked), yet one row: the second was the first redelivered.
    await eventually(async () => (await ch.checkQueue(DEAD_LETTER_QUEUE)).messageCount === 0, 5000, "queue drained");
    expect((await sql`select count(*)::int as n from dead_letters where message_id = 'dl-twice'`)[0]!.n).toBe(1);
  });

  test("a burst of reports is written in batches and all of it is stored", async () => {
    const ids = await Promise.all(Array.from({ length: 500 }, (_, i) => sendFrame("s1", "property.report", `{"id":"burst-${i}","data":{"n":${i}}}`)));
    await eventually(() => ids.every((id) => seen.some((m) => m.properties.messageId === id)), 10_000, "burst republished");
    const [burst] = await sql`select count(*)::int as count from message_log where dedupe_key like 'id:burst-%'`;
    expect(burst!.count).toBe(500);
    const [row] = await sql`select value from device_state where device_id = 's1' and property = 'n'`;
    expect(typeof row!.value).toBe("number");
  });
});
