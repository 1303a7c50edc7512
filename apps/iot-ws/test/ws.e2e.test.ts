import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import amqplib from "amqplib";
import { EXCHANGE, HEADERS } from "@umos/contracts";
import { createVhost, eventually, testConfig, testToken, type TestVhost, inProcess } from "@umos/testkit";
import type { App } from "@umos/runtime";
import { createApp } from "../src/app";

let vhost: TestVhost;
let ws: App;
let conn: amqplib.ChannelModel;
let ch: amqplib.ConfirmChannel;

beforeAll(async () => {
  vhost = await createVhost();
  ws = inProcess(createApp, testConfig({ busUrl: vhost.url }, { UMOS_WS__MAX_BUFFERED_BYTES: String(1024 * 1024) }), "iot-ws", { db: false });
  await ws.start();
  conn = await amqplib.connect(vhost.url);
  ch = await conn.createConfirmChannel();
});

afterAll(async () => {
  await conn.close();
  await ws.stop();
  await vhost.dispose();
});

function publishEvent(deviceId: string, kind: string, data: unknown, vendor = "generic") {
  const body = JSON.stringify({ id: Bun.randomUUIDv7(), ts: Date.now(), vendor, deviceId, kind, data });
  ch.publish(EXCHANGE, `iot.${vendor}.event.${kind}`, Buffer.from(body), { headers: { [HEADERS.deviceId]: deviceId, [HEADERS.vendor]: vendor } });
  return ch.waitForConfirms();
}

interface Frame {
  type: string;
  routingKey?: string;
  message?: { deviceId: string; kind: string; data: unknown };
  code?: string;
}

async function client(): Promise<{ socket: WebSocket; frames: Frame[]; send(m: unknown): void }> {
  const socket = new WebSocket(`ws://127.0.0.1:${ws.port}/ws?token=${await testToken("viewer")}`);
  const frames: Frame[] = [];
  socket.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return { socket, frames, send: (m) => socket.send(JSON.stringify(m)) };
}

describe("iot-ws", () => {
  test("a client receives the messages of the devices it subscribed to, and no others", async () => {
    const c = await client();
    c.send({ type: "subscribe", devices: ["a"] });
    await eventually(() => c.frames.some((f) => f.type === "subscribed"), 2000, "subscribed");
    await publishEvent("b", "property.report", { t: 0 });
    await publishEvent("a", "property.report", { t: 1 });
    await publishEvent("a", "event.report", { event: "door" });
    await eventually(() => c.frames.filter((f) => f.type === "message").length === 2, 3000, "two messages");
    const messages = c.frames.filter((f) => f.type === "message");
    expect(messages.map((f) => [f.routingKey, f.message!.deviceId, f.message!.kind])).toEqual([
      ["iot.generic.event.property.report", "a", "property.report"],
      ["iot.generic.event.event.report", "a", "event.report"],
    ]);
    expect(messages[0]!.message!.data).toEqual({ t: 1 });
    c.socket.close();
  });

  test("filters by vendor and kind; unsubscribe stops delivery", async () => {
    const c = await client();
    c.send({ type: "subscribe", vendors: ["tuya"], kinds: ["command.status"] });
    await eventually(() => c.frames.some((f) => f.type === "subscribed"), 2000, "subscribed");
    await publishEvent("x", "command.status", { status: "sent" }, "generic");
    await publishEvent("x", "command.status", { status: "sent" }, "tuya");
    await eventually(() => c.frames.filter((f) => f.type === "message").length === 1, 3000, "one message");
    c.send({ type: "unsubscribe" });
    await eventually(() => c.frames.some((f) => f.type === "unsubscribed"), 2000, "unsubscribed");
    await publishEvent("x", "command.status", { status: "acked" }, "tuya");
    await Bun.sleep(200);
    expect(c.frames.filter((f) => f.type === "message")).toHaveLength(1);
    c.socket.close();
  });

  test("a bad client message gets an error frame, and the connection stays usable", async () => {
    const c = await client();
    c.socket.send("{nope");
    c.send({ type: "subscribe", devices: "a" });
    await eventually(() => c.frames.filter((f) => f.type === "error").length === 2, 2000, "two errors");
    expect(c.frames.map((f) => f.code)).toEqual(["malformed_json", "invalid_message"]);
    c.send({ type: "subscribe" });
    await eventually(() => c.frames.some((f) => f.type === "subscribed"), 2000, "still usable");
    c.socket.close();
  });

  test("a client message over ws.maxMessageBytes, or a flood past ws.maxMessagesPerSecond, closes that connection with a reason", async () => {
    const closeOf = (socket: WebSocket) => new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
    const big = await client();
    const bigClosed = closeOf(big.socket);
    big.socket.send("x".repeat(70_000));
    expect((await bigClosed).code).toBe(1009); // RFC 6455: message too big
    const flood = await client();
    const floodClosed = closeOf(flood.socket);
    for (let i = 0; i < 50; i++) flood.send({ type: "subscribe", devices: [`d${i}`] });
    const closed = await floodClosed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain("rate limit");
    const calm = await client();
    calm.send({ type: "subscribe" });
    await eventually(() => calm.frames.some((f) => f.type === "subscribed"), 2000, "others unaffected");
    calm.socket.close();
  });

  test("a client that stops reading is disconnected with a reason and never stalls the others", async () => {
    const fast = await client();
    fast.send({ type: "subscribe", devices: ["flood"] });
    // A raw socket that completes the handshake, subscribes, then stops reading.
    const slow = net.connect(ws.port, "127.0.0.1");
    const received: Buffer[] = [];
    let closed = false;
    slow.on("data", (d: Buffer) => received.push(d));
    slow.on("close", () => (closed = true));
    await new Promise((r) => slow.once("connect", r));
    slow.write(
      `GET /ws?token=${await testToken("viewer")} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await eventually(() => Buffer.concat(received).includes("101"), 2000, "handshake");
    const subscribe = Buffer.from(JSON.stringify({ type: "subscribe", devices: ["flood"] }));
    const mask = Buffer.from([1, 2, 3, 4]);
    slow.write(Buffer.concat([Buffer.from([0x81, 0x80 | subscribe.length]), mask, subscribe.map((b, i) => b ^ mask[i % 4]!)]));
    await eventually(() => Buffer.concat(received).includes("subscribed"), 2000, "slow client subscribed");
    slow.pause();

    // The publisher keeps at most 50 messages (400 KB) ahead of the fast client, so only the client
    // that stopped reading can pass the 1 MiB limit, however loaded the machine is.
    const total = 3000;
    const step = 50;
    const blob = "x".repeat(8192);
    const fastReceived = () => fast.frames.filter((f) => f.type === "message").length;
    for (let i = 0; i < total; i += step) {
      await Promise.all(Array.from({ length: step }, (_, j) => publishEvent("flood", "property.report", { n: i + j, blob })));
      await eventually(() => fastReceived() === i + step, 10_000, `fast client got ${i + step}`);
    }
    expect(fast.socket.readyState).toBe(WebSocket.OPEN);
    slow.resume();
    await eventually(() => closed, 10_000, "slow client disconnected");
    const stream = Buffer.concat(received);
    const at = stream.lastIndexOf(Buffer.from("slow consumer"));
    expect(at).toBeGreaterThan(0);
    expect(stream.readUInt16BE(at - 2)).toBe(1008);
    fast.socket.close();
  }, 40_000);
});
