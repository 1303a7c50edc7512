import { afterEach, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { silentLogger } from "@umos/core";
import { eventually } from "@umos/testkit";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded-broker";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A broker that lets in the user `device` with password `secret`, with small limits to test against. */
async function broker(loginTimeoutMs = 10_000): Promise<EmbeddedBroker> {
  const dir = await mkdtemp(join(tmpdir(), "umos-embedded-broker-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const started = await startEmbeddedBroker({
    host: "127.0.0.1",
    port: 0,
    persistencePath: join(dir, "mqtt.sqlite"),
    auth: { authenticate: (_client, username, password, done) => done(null, username === "device" && password?.toString() === "secret") },
    loginTimeoutMs,
    packetLimits: { beforeLogin: 1024, afterLogin: 4096 },
    log: silentLogger,
  });
  cleanups.push(() => started.close());
  return started;
}

/** A raw TCP connection, and whether the broker has closed it. */
async function rawSocket(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  cleanups.push(() => socket.destroy());
  return { socket, closed: () => closed };
}

test("a connection that sends no CONNECT within the login deadline is closed", async () => {
  const { port } = await broker(300);
  const idle = await rawSocket(port);
  await eventually(idle.closed, 3000, "idle connection closed");
});

test("a packet announcing more than a stranger may send is refused on its header, before its body is read", async () => {
  const { port } = await broker();
  const stranger = await rawSocket(port);
  // CONNECT (0x10) declaring 1 MiB of remaining length, as a variable byte integer [MQTT-2.2.3]; no body
  // follows. The login deadline is 10 s here, so only the size check can close it this soon.
  stranger.socket.write(Buffer.from([0x10, 0x80, 0x80, 0x40]));
  await eventually(stranger.closed, 1000, "oversized CONNECT closed");
});

test("a logged-in client may publish up to the packet limit; past it its connection is closed", async () => {
  const { port } = await broker();
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clientId: "device",
    username: "device",
    password: "secret",
    reconnectPeriod: 0,
  });
  cleanups.push(() => device.end(true));
  await device.publishAsync("generic/device/property/report", Buffer.alloc(3000), { qos: 1 });
  let closed = false;
  device.on("close", () => (closed = true));
  device.publish("generic/device/property/report", Buffer.alloc(5000), { qos: 1 });
  await eventually(() => closed, 2000, "oversized publish closed");
});

test("disconnect closes a client's live session, as a rotated password does", async () => {
  const started = await broker();
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${started.port}`, {
    protocolVersion: 4,
    clientId: "device",
    username: "device",
    password: "secret",
    reconnectPeriod: 0,
  });
  cleanups.push(() => device.end(true));
  let closed = false;
  device.on("close", () => (closed = true));
  started.disconnect("nobody");
  started.disconnect("device");
  await eventually(() => closed, 2000, "session closed");
});
