import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import amqplib from "amqplib";
import mqtt from "mqtt";
import { QUEUES } from "@umos/contracts";
import {
  createVhost,
  eventually,
  RABBITMQ_HOST,
  startMosquitto,
  startTcpProxy,
  testEnv,
  type TcpProxy,
  type TestMosquitto,
  type TestVhost,
} from "@umos/testkit";

// Edge store and forward (docs/deployment.md): the gateway reaches RabbitMQ through a proxy the test cuts.
let vhost: TestVhost;
let broker: TestMosquitto;
let proxy: TcpProxy;
let dir: string;
let gateway: ReturnType<typeof Bun.spawn> | null = null;
let device: mqtt.MqttClient;
let metricsPort = 0;

beforeEach(async () => {
  [vhost, broker, proxy, dir] = await Promise.all([
    createVhost(),
    startMosquitto(),
    startTcpProxy(Number(RABBITMQ_HOST.split(":")[1] ?? 5672)),
    mkdtemp(join(tmpdir(), "umos-spool-")),
  ]);
  device = await mqtt.connectAsync(broker.url, { clientId: `spool-device-${Math.random()}`, protocolVersion: 5, reconnectPeriod: 0 });
});

afterEach(async () => {
  gateway?.kill("SIGKILL");
  await gateway?.exited;
  gateway = null;
  await device.endAsync();
  await Promise.all([vhost.dispose(), broker.stop(), proxy.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function startGateway(spool: Record<string, string> = {}): void {
  const url = new URL(vhost.url);
  url.port = String(proxy.port);
  metricsPort = 20_000 + Math.floor(Math.random() * 10_000);
  const env = testEnv(
    { busUrl: url.toString(), mqttUrl: broker.url },
    {
      UMOS_INSTANCE: "edge",
      UMOS_GATEWAY__PORT: String(metricsPort),
      UMOS_GATEWAY__SPOOL__ENABLED: "true",
      UMOS_GATEWAY__SPOOL__PATH: join(dir, "spool.db"),
      UMOS_BUS__RECONNECT_MAX_MS: "500",
      ...spool,
    },
  );
  gateway = Bun.spawn(["bun", resolve(import.meta.dir, "../src/main.ts")], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
}

async function spoolGauge(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name));
  if (!line) throw new Error(`${name} not in /metrics`);
  return Number(line.split(" ").at(-1));
}

/** Reads iot-uplink-queue directly (not through the proxy), as iot-uplink would. */
async function consumer() {
  const conn = await amqplib.connect(vhost.url);
  conn.on("error", () => {});
  await eventually(
    async () => {
      const probe = await conn.createChannel();
      probe.on("error", () => {});
      await probe.checkQueue(QUEUES.uplink);
      return true;
    },
    10_000,
    "gateway declared its queues",
  );
  const ch = await conn.createChannel();
  const seqs: number[] = [];
  const ids = new Set<string>();
  let duplicates = 0;
  await ch.consume(
    QUEUES.uplink,
    (m) => {
      if (!m) return;
      // A frame in flight when the link broke may reach RabbitMQ twice, always with the same message-id.
      if (ids.has(m.properties.messageId)) return void duplicates++;
      ids.add(m.properties.messageId);
      seqs.push(JSON.parse(m.content.toString()).data.n);
    },
    { noAck: true },
  );
  return { seqs, duplicates: () => duplicates, close: () => conn.close() };
}

async function publish(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 50) {
    const batch = Array.from({ length: Math.min(50, to - i) }, (_, j) => i + j);
    await Promise.all(batch.map((n) => device.publishAsync("generic/edge-1/property/report", JSON.stringify({ id: `m${n}`, data: { n } }), { qos: 1 })));
  }
}

const inOrder = (seqs: number[], total: number) => seqs.length === total && seqs.every((n, i) => n === i);

describe("edge store and forward", () => {
  test("with RabbitMQ cut off for a while, frames are spooled and then delivered, all of them, in the order published", async () => {
    startGateway();
    const sink = await consumer();
    await publish(0, 500);
    await eventually(() => sink.seqs.length === 500, 10_000, "direct relay before the cut");
    proxy.cut();
    await publish(500, 2000);
    // The link is down: the frames are in the spool, acknowledged to the broker.
    await eventually(async () => (await spoolGauge("iot_gateway_spool_messages")) === 1500, 10_000, "1500 frames spooled");
    expect(await spoolGauge("iot_gateway_spool_age_seconds")).toBeGreaterThan(0);
    const flowing = publish(2000, 3000); // still arriving when the link returns
    proxy.restore();
    await flowing;
    await eventually(() => sink.seqs.length === 3000, 20_000, "all 3000 frames forwarded");
    expect(inOrder(sink.seqs, 3000)).toBe(true);
    await eventually(async () => (await spoolGauge("iot_gateway_spool_messages")) === 0, 5000, "spool empty");
    await sink.close();
  }, 60_000);

  test("a full spool stops acknowledging, the MQTT broker holds the rest, and everything arrives in order once the link returns", async () => {
    startGateway({ UMOS_GATEWAY__SPOOL__MAX_MESSAGES: "200", UMOS_MQTT__RECEIVE_MAXIMUM: "20" });
    const sink = await consumer();
    await publish(0, 100);
    await eventually(() => sink.seqs.length === 100, 10_000, "direct relay before the cut");
    proxy.cut();
    await publish(100, 1100);
    await eventually(async () => (await spoolGauge("iot_gateway_spool_messages")) === 200, 10_000, "spool at its bound");
    await Bun.sleep(500);
    expect(await spoolGauge("iot_gateway_spool_messages")).toBe(200);
    proxy.restore();
    await eventually(() => sink.seqs.length === 1100, 20_000, "all 1100 frames forwarded");
    expect(inOrder(sink.seqs, 1100)).toBe(true);
    await sink.close();
  }, 60_000);

  test("frames spooled when the gateway is killed are forwarded by the next one, which starts while RabbitMQ is still unreachable", async () => {
    startGateway();
    const sink = await consumer();
    await publish(0, 100);
    await eventually(() => sink.seqs.length === 100, 10_000, "direct relay before the cut");
    proxy.cut();
    await publish(100, 600);
    await eventually(async () => (await spoolGauge("iot_gateway_spool_messages")) === 500, 10_000, "500 frames spooled");
    gateway!.kill("SIGKILL");
    await gateway!.exited;
    startGateway();
    await eventually(async () => (await spoolGauge("iot_gateway_spool_messages")) === 500, 10_000, "the spool found after the restart");
    await publish(600, 700);
    proxy.restore();
    await eventually(() => sink.seqs.length === 700, 20_000, "all 700 frames forwarded");
    expect(inOrder(sink.seqs, 700)).toBe(true);
    await sink.close();
  }, 60_000);
});
