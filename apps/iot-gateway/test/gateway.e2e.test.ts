import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import amqplib from "amqplib";
import mqtt from "mqtt";
import { DEAD_LETTER_QUEUE, EXCHANGE, HEADERS, QUEUES } from "@umos/contracts";
import { createVhost, eventually, startMosquitto, testConfig, testEnv, type TestMosquitto, type TestVhost, inProcess } from "@umos/testkit";
import type { App } from "@umos/runtime";
import { createApp } from "../src/app";

let vhost: TestVhost;
let broker: TestMosquitto;

beforeAll(async () => {
  [vhost, broker] = await Promise.all([createVhost(), startMosquitto()]);
});
afterAll(async () => {
  await Promise.all([vhost.dispose(), broker.stop()]);
});

async function device(id: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(broker.url, { clientId: `dev-${id}-${Math.random()}`, protocolVersion: 5, reconnectPeriod: 0 });
}

/** Reads everything that arrives on a queue, as an app on the other side of RabbitMQ would. */
async function drainQueue(queue: string) {
  const conn = await amqplib.connect(vhost.url);
  const ch = await conn.createChannel();
  const got: amqplib.ConsumeMessage[] = [];
  await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
  return { got, close: () => conn.close() };
}

describe("iot-gateway, in process", () => {
  let gateway: App;
  beforeAll(async () => {
    gateway = inProcess(createApp, testConfig({ busUrl: vhost.url, mqttUrl: broker.url }), "iot-gateway", { db: false });
    await gateway.start();
    await eventually(async () => (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).ok, 5000, "gateway ready");
  });
  afterAll(async () => {
    await gateway.stop();
  });

  test("device frames reach iot-uplink-queue byte for byte, with the routing key and headers of docs/design.md §2", async () => {
    const sink = await drainQueue(QUEUES.uplink);
    const client = await device("d1");
    const payloads = Array.from({ length: 300 }, (_, i) => Buffer.from(`{"id":"${i}","data":{"t":${i}},"raw":"\u00e9\\u0000"}`));
    await Promise.all(payloads.map((p) => client.publishAsync("generic/d1/property/report", p, { qos: 1 })));
    await client.publishAsync("generic/d1/event/report", '{"event":"door"}', { qos: 1 });
    await eventually(() => sink.got.length === 301, 5000, "all frames relayed");
    const reports = sink.got.filter((m) => m.fields.routingKey === "iot.generic.device.property.report");
    expect(reports.map((m) => m.content.toString()).sort()).toEqual(payloads.map((p) => p.toString()).sort());
    const first = reports[0]!;
    expect(first.properties.headers?.[HEADERS.deviceId]).toBe("d1");
    expect(first.properties.headers?.[HEADERS.vendor]).toBe("generic");
    expect(first.properties.headers?.[HEADERS.mqttTopic]).toBe("generic/d1/property/report");
    expect(typeof first.properties.headers?.[HEADERS.receivedAt]).toBe("number");
    expect(first.properties.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(first.properties.deliveryMode).toBe(2);
    expect(sink.got.some((m) => m.fields.routingKey === "iot.generic.device.event.report")).toBe(true);
    await client.endAsync();
    await sink.close();
  });

  test("a frame for the gateway queue is published to the device's topic, and acked only after the broker's PUBACK", async () => {
    const client = await device("d2");
    const received: string[] = [];
    client.on("message", (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await client.subscribeAsync("generic/d2/service/call", { qos: 1 });
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createConfirmChannel();
    ch.publish(EXCHANGE, "iot.generic.gateway.service.call", Buffer.from('{"service":"reboot"}'), {
      headers: { [HEADERS.mqttTopic]: "generic/d2/service/call" },
      persistent: true,
    });
    await ch.waitForConfirms();
    await eventually(() => received.length === 1, 5000, "device got the call");
    expect(received[0]).toBe('generic/d2/service/call {"service":"reboot"}');
    await eventually(async () => (await ch.checkQueue(QUEUES.gateway)).messageCount === 0, 2000, "delivery acked");
    await conn.close();
    await client.endAsync();
  });

  test("a device payload over gateway.maxPayloadBytes is dead-lettered with the reason, not relayed", async () => {
    const client = await device("big");
    await client.publishAsync("generic/big/property/report", Buffer.alloc(300_000, 0x20), { qos: 1 });
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createChannel();
    const dead = await eventually(() => ch.get(DEAD_LETTER_QUEUE, { noAck: true }), 5000, "dead letter");
    expect(dead.properties.headers?.[HEADERS.deadLetterCode]).toBe("payload_too_large");
    expect(String(dead.properties.headers?.[HEADERS.deadLetterReason])).toContain("300000 bytes on 'generic/big/property/report'");
    expect(dead.fields.routingKey).toBe("iot.generic.device.property.report");
    // Only the head travels on, with the device and the size it came in: a huge payload cannot clog RabbitMQ.
    expect(dead.content.byteLength).toBe(262_144);
    expect(dead.properties.headers).toMatchObject({ [HEADERS.originalSize]: 300_000, [HEADERS.deviceId]: "big", [HEADERS.vendor]: "generic" });
    await conn.close();
    await client.endAsync();
  });

  test("a downlink frame without a topic header is dead-lettered with its reason", async () => {
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createConfirmChannel();
    ch.publish(EXCHANGE, "iot.generic.gateway.service.call", Buffer.from("{}"), { headers: {} });
    await ch.waitForConfirms();
    const dead = await eventually(() => ch.get(DEAD_LETTER_QUEUE, { noAck: true }), 5000, "dead letter");
    expect(dead.properties.headers?.[HEADERS.deadLetterCode]).toBe("invalid_topic");
    await conn.close();
  });
});

describe("iot-gateway, as a process", () => {
  test("a gateway killed mid-stream loses no frame: the broker redelivers what was not confirmed", async () => {
    // A broker of its own: the in-process gateway's persistent session above is still a member of the
    // shared group there, and the broker rightly keeps queueing a share of the traffic for it.
    const ownBroker = await startMosquitto();
    const env = { ...process.env, ...testEnv({ busUrl: vhost.url, mqttUrl: ownBroker.url }, { UMOS_INSTANCE: "crash" }) };
    const main = resolve(import.meta.dir, "../src/main.ts");
    const sink = await drainQueue(QUEUES.uplink);
    const spawn = () => Bun.spawn(["bun", main], { env, stdout: "ignore", stderr: "inherit" });
    let gateway = spawn();
    const client = await mqtt.connectAsync(ownBroker.url, { clientId: "crash-device", protocolVersion: 5, reconnectPeriod: 0 });
    try {
      // The gateway must hold its session before the stream starts, or the first frames have no subscriber.
      await eventually(
        () => sink.got.length > 0 || client.publishAsync("generic/crash/status", '{"state":"online"}', { qos: 1 }).then(() => false),
        10_000,
        "gateway relaying",
      );
      sink.got.length = 0;
      const total = 3000;
      const sending = (async () => {
        for (let i = 0; i < total; i += 100) {
          await Promise.all(
            Array.from({ length: 100 }, (_, j) => client.publishAsync("generic/crash/property/report", `{"id":"${i + j}","data":{}}`, { qos: 1 })),
          );
        }
      })();
      await eventually(() => sink.got.length > 300, 10_000, "stream under way");
      gateway.kill("SIGKILL");
      await gateway.exited;
      await sending;
      gateway = spawn();
      const distinct = () => new Set(sink.got.map((m) => JSON.parse(m.content.toString()).id)).size;
      await eventually(() => distinct() === total, 20_000, `all ${total} frames relayed`);
    } finally {
      gateway.kill("SIGTERM");
      await gateway.exited;
      await client.endAsync();
      await sink.close();
      await ownBroker.stop();
    }
  }, 40_000);
});
