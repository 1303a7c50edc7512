import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import mqtt from "mqtt";
import { connectBus } from "@umos/bus";
import { QUEUES } from "@umos/contracts";
import { silentLogger } from "@umos/core";
import type { App } from "@umos/runtime";
import { createApp as createApi } from "../../apps/iot-api/src/app";
import { createApp as createGateway } from "../../apps/iot-gateway/src/app";
import { createApp as createWs } from "../../apps/iot-ws/src/app";
import {
  createDatabase,
  createTestCA,
  createVhost,
  eventually,
  RABBITMQ_HOST,
  startMosquitto,
  startTlsProxy,
  testConfig,
  testToken,
  type TestCA,
  type TestDatabase,
  type TestVhost,
  inProcess,
} from "@umos/testkit";

/** TLS as a configuration switch, with certificates from a test CA that only these tests trust. */
let ca: TestCA;
let vhost: TestVhost;
let database: TestDatabase;

beforeAll(async () => {
  [ca, vhost, database] = await Promise.all([createTestCA(), createVhost(), createDatabase()]);
});

afterAll(async () => {
  await Promise.all([ca.dispose(), vhost.dispose(), database.dispose()]);
});

describe("HTTPS and WSS", () => {
  let api: App;
  let ws: App;

  beforeAll(async () => {
    const tls = (listener: string) => ({ [`UMOS_${listener}__TLS__CERT_FILE`]: ca.certFile, [`UMOS_${listener}__TLS__KEY_FILE`]: ca.keyFile });
    const config = testConfig({ busUrl: vhost.url, postgresUrl: database.url }, { ...tls("API"), ...tls("WS") });
    api = inProcess(createApi, config, "iot-api");
    ws = inProcess(createWs, config, "iot-ws", { db: false });
    await Promise.all([api.start(), ws.start()]);
  });

  afterAll(async () => {
    await Promise.all([api.stop(), ws.stop()]);
  });

  test("the REST API answers over HTTPS to a client that trusts the CA, and refuses one that does not", async () => {
    const res = await fetch(`https://localhost:${api.port}/api/v1/devices`, {
      headers: { authorization: `Bearer ${await testToken("viewer")}` },
      tls: { ca: ca.ca },
    });
    expect(res.status).toBe(200);
    await expect(fetch(`https://localhost:${api.port}/health`)).rejects.toThrow();
    await expect(fetch(`http://localhost:${api.port}/health`)).rejects.toThrow();
  });

  test("the WebSocket API accepts a WSS client that trusts the CA", async () => {
    const socket = new WebSocket(`wss://localhost:${ws.port}/ws?token=${await testToken("viewer")}`, { tls: { ca: ca.ca } });
    const frames: string[] = [];
    socket.onmessage = (e) => frames.push(String(e.data));
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    socket.send(JSON.stringify({ type: "subscribe", devices: ["x"] }));
    await eventually(() => frames.some((f) => f.includes('"subscribed"')), 3000, "subscribed over WSS");
    socket.close();
  });
});

describe("amqps", () => {
  test("the bus connects over amqps:// trusting the test CA, publishes with confirms and consumes; without the CA it refuses", async () => {
    const proxy = await startTlsProxy(ca, Number(RABBITMQ_HOST.split(":")[1]));
    const url = `amqps://guest:guest@localhost:${proxy.port}/${encodeURIComponent(vhost.name)}`;
    const options = {
      url,
      name: "tls-test",
      queueType: "classic" as const,
      prefetch: 10,
      reconnectInitialMs: 20,
      reconnectMaxMs: 50,
      maxAttempts: 3,
      log: silentLogger,
    };
    try {
      const bus = await connectBus({ ...options, caFile: ca.caFile });
      const got: string[] = [];
      const consumer = await bus.consume({ queue: QUEUES.uplink }, async (m) => void got.push(m.body.toString()));
      await bus.publish("iot.generic.device.property.report", Buffer.from("over tls"));
      await eventually(() => got.includes("over tls"), 5000, "message through amqps");
      await consumer.stop();
      await bus.close();
      await expect(connectBus(options)).rejects.toThrow();
    } finally {
      await proxy.stop();
    }
  }, 30_000);
});

describe("mqtts", () => {
  test("the gateway relays a device's frame from a TLS-only broker, trusting the test CA", async () => {
    const broker = await startMosquitto({ tls: ca });
    const gateway = inProcess(
      createGateway,
      testConfig({ busUrl: vhost.url, mqttUrl: broker.url }, { UMOS_MQTT__CA_FILE: ca.caFile, UMOS_INSTANCE: "mqtts" }),
      "iot-gateway",
      { db: false },
    );
    const conn = await amqplib.connect(vhost.url);
    try {
      await gateway.start();
      const ch = await conn.createChannel();
      const got: string[] = [];
      await ch.consume(QUEUES.uplink, (m) => m && got.push(m.content.toString()), { noAck: true });
      await eventually(async () => (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).ok, 10_000, "gateway connected over mqtts");
      const device = await mqtt.connectAsync(broker.url, { ca: ca.ca, protocolVersion: 5, clientId: "tls-device" });
      await device.publishAsync("generic/tls-device/property/report", '{"data":{"t":1}}', { qos: 1 });
      await eventually(() => got.includes('{"data":{"t":1}}'), 10_000, "frame relayed");
      await device.endAsync();
    } finally {
      await conn.close();
      await gateway.stop();
      await broker.stop();
    }
  }, 30_000);
});
