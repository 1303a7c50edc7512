import { afterAll, beforeAll, expect, test } from "bun:test";
import amqplib from "amqplib";
import mqtt from "mqtt";
import { EXCHANGE, HEADERS, QUEUES } from "@umos/contracts";
import type { App } from "@umos/runtime";
import { createVhost, eventually, startMosquitto, testConfig, type TestMosquitto, type TestVhost, inProcess } from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * The gateway against a broker spoken to in MQTT 3.1.1 (standalone mode's aedes speaks nothing
 * else): Clean Session 0 instead of Session Expiry, plain filters instead of `$share`, and its own
 * read-ahead bound instead of a Receive Maximum the broker would honour.
 */
let vhost: TestVhost;
let broker: TestMosquitto;
let gateway: App;

beforeAll(async () => {
  [vhost, broker] = await Promise.all([createVhost(), startMosquitto()]);
  const config = testConfig(
    { busUrl: vhost.url, mqttUrl: broker.url },
    { UMOS_MQTT__PROTOCOL_VERSION: "4", UMOS_MQTT__SHARED_SUBSCRIPTIONS: "false", UMOS_MQTT__RECEIVE_MAXIMUM: "8" },
  );
  gateway = inProcess(createApp, config, "iot-gateway", { db: false });
  await gateway.start();
  await eventually(async () => (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).ok, 5000, "gateway ready");
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([vhost.dispose(), broker.stop()]);
});

test("over MQTT 3.1.1, with at most 8 frames read ahead of their PUBACKs, every frame reaches RabbitMQ byte for byte", async () => {
  const conn = await amqplib.connect(vhost.url);
  const ch = await conn.createChannel();
  const got: string[] = [];
  await ch.consume(QUEUES.uplink, (m) => m && got.push(m.content.toString()), { noAck: true });
  const device = await mqtt.connectAsync(broker.url, { clientId: "dev-311", protocolVersion: 4, reconnectPeriod: 0 });
  // A first byte of 5 would read as a Properties length in MQTT 5.
  const payloads = Array.from({ length: 500 }, (_, i) => `\u0005{"id":"${i}","data":{"t":${i}}}`);
  await Promise.all(payloads.map((p) => device.publishAsync("generic/dev-311/property/report", p, { qos: 1 })));
  await eventually(() => got.length === payloads.length, 10_000, "all frames relayed");
  expect(got.sort()).toEqual(payloads.sort());
  await device.endAsync();
  await conn.close();
});

test("a frame for a device goes out over MQTT 3.1.1 and is acked on RabbitMQ after the broker's PUBACK", async () => {
  const device = await mqtt.connectAsync(broker.url, { clientId: "dev-311b", protocolVersion: 4, reconnectPeriod: 0 });
  const received: string[] = [];
  device.on("message", (_topic, payload) => received.push(payload.toString()));
  await device.subscribeAsync("generic/dev-311b/service/call", { qos: 1 });
  const conn = await amqplib.connect(vhost.url);
  const ch = await conn.createConfirmChannel();
  ch.publish(EXCHANGE, "iot.generic.gateway.service.call", Buffer.from('{"service":"reboot"}'), {
    headers: { [HEADERS.mqttTopic]: "generic/dev-311b/service/call" },
    persistent: true,
  });
  await ch.waitForConfirms();
  await eventually(() => received.length === 1, 5000, "device got the call");
  expect(received[0]).toBe('{"service":"reboot"}');
  await eventually(async () => (await ch.checkQueue(QUEUES.gateway)).messageCount === 0, 2000, "delivery acked");
  await device.endAsync();
  await conn.close();
});
