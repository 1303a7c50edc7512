import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { eventually } from "@umos/testkit";
import { SqlitePersistence } from "./sqlite-persistence";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A broker on the file; `abandon` leaves it without closing anything, as a killed process would. */
async function brokerOn(file: string, heartbeatInterval = 60_000) {
  const persistence = new SqlitePersistence(file);
  const broker = await Aedes.createBroker({ persistence, heartbeatInterval });
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const abandon = () => {
    server.close();
    const clients = (broker as unknown as { clients: Record<string, { conn: net.Socket }> }).clients;
    for (const client of Object.values(clients)) client.conn.destroy();
  };
  cleanups.push(() => new Promise<void>((resolve) => broker.close(() => resolve())));
  cleanups.push(abandon);
  return { url, abandon, persistence };
}

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "umos-mqtt-persistence-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "mqtt.sqlite");
}

async function client(url: string, clientId: string, clean: boolean) {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, clean, reconnectPeriod: 0 });
  cleanups.push(() => c.end(true));
  return c;
}

test("a persistent session's subscriptions and its unacknowledged QoS 1 messages outlive the broker", async () => {
  const file = await tempFile();
  const first = await brokerOn(file);
  const gateway = await client(first.url, "gw", false);
  await gateway.subscribeAsync("generic/+/property/report", { qos: 1 });
  gateway.end(true);
  const device = await client(first.url, "dev-1", true);
  for (let i = 0; i < 3; i++) await device.publishAsync("generic/dev-1/property/report", `m-${i}`, { qos: 1 });
  first.abandon();

  const second = await brokerOn(file);
  const received: string[] = [];
  const back = await mqtt.connectAsync(second.url, { protocolVersion: 4, clientId: "gw", clean: false, reconnectPeriod: 0 });
  cleanups.push(() => back.end(true));
  back.on("message", (_topic, payload) => received.push(payload.toString()));
  await eventually(() => received.length === 3, 5000, "three queued messages");
  expect(received).toEqual(["m-0", "m-1", "m-2"]);

  // Acknowledged now: a third broker has nothing left to send.
  back.end();
  second.abandon();
  const third = await brokerOn(file);
  const again: string[] = [];
  const last = await mqtt.connectAsync(third.url, { protocolVersion: 4, clientId: "gw", clean: false, reconnectPeriod: 0 });
  cleanups.push(() => last.end(true));
  last.on("message", (_topic, payload) => again.push(payload.toString()));
  await last.publishAsync("generic/dev-2/property/report", "fresh", { qos: 1 });
  await eventually(() => again.length === 1, 5000, "the restored subscription delivers");
  expect(again).toEqual(["fresh"]);
});

test("retained messages outlive the broker; an empty retained payload deletes one", async () => {
  const file = await tempFile();
  const first = await brokerOn(file);
  const device = await client(first.url, "dev-1", true);
  await device.publishAsync("generic/dev-1/status", '{"state":"online"}', { qos: 1, retain: true });
  await device.publishAsync("generic/dev-2/status", '{"state":"online"}', { qos: 1, retain: true });
  await device.publishAsync("generic/dev-2/status", "", { qos: 1, retain: true });
  first.abandon();

  const second = await brokerOn(file);
  const reader = await client(second.url, "reader", true);
  const retained: string[] = [];
  reader.on("message", (topic) => retained.push(topic));
  await reader.subscribeAsync("generic/+/status", { qos: 1 });
  await eventually(() => retained.length >= 1, 5000, "retained message");
  await Bun.sleep(100);
  expect(retained).toEqual(["generic/dev-1/status"]);
});

test("a message written ahead but never queued (a crash between aedes's PUBACK and its queueing) is published at the next start", async () => {
  const file = await tempFile();
  const first = await brokerOn(file);
  const gateway = await client(first.url, "gw", false);
  await gateway.subscribeAsync("generic/+/property/report", { qos: 1 });
  gateway.end(true);
  first.persistence.writeAhead({ topic: "generic/dev-1/property/report", payload: Buffer.from("acked, then the crash"), qos: 1 });
  first.abandon();

  const second = await brokerOn(file);
  const received: string[] = [];
  const back = await mqtt.connectAsync(second.url, { protocolVersion: 4, clientId: "gw", clean: false, reconnectPeriod: 0 });
  cleanups.push(() => back.end(true));
  back.on("message", (_topic, payload) => received.push(payload.toString()));
  await eventually(() => received.length === 1, 5000, "the written-ahead message");
  expect(received).toEqual(["acked, then the crash"]);
});

test("the will of a device connected when the broker died is published by the next broker", async () => {
  const file = await tempFile();
  const first = await brokerOn(file);
  const device = await mqtt.connectAsync(first.url, {
    protocolVersion: 4,
    clientId: "dev-w",
    reconnectPeriod: 0,
    will: { topic: "generic/dev-w/status", payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: false },
  });
  device.on("error", () => {});
  cleanups.push(() => device.end(true));
  // The first broker stays as it is, its device connected, as if frozen by the crash: had it seen the
  // connection drop it would have sent the will itself.

  const second = await brokerOn(file, 250);
  const watcher = await client(second.url, "watcher", true);
  const wills: string[] = [];
  watcher.on("message", (topic, payload) => wills.push(`${topic} ${payload.toString()}`));
  await watcher.subscribeAsync("generic/+/status", { qos: 1 });
  await eventually(() => wills.length === 1, 5000, "the will");
  expect(wills).toEqual(['generic/dev-w/status {"state":"offline"}']);
});
