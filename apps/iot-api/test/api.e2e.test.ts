import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import postgres from "postgres";
import { EXCHANGE } from "@umos/contracts";
import { createDatabase, createVhost, eventually, testConfig, testToken, type TestDatabase, type TestVhost, inProcess } from "@umos/testkit";
import type { App } from "@umos/runtime";
import { createApp } from "../src/app";

let vhost: TestVhost;
let database: TestDatabase;
let api: App;
let base: string;
let token: string;

beforeAll(async () => {
  [vhost, database] = await Promise.all([createVhost(), createDatabase()]);
  api = inProcess(createApp, testConfig({ busUrl: vhost.url, postgresUrl: database.url }), "iot-api");
  await api.start();
  base = `http://127.0.0.1:${api.port}`;
  token = await testToken("admin");
});

afterAll(async () => {
  await api.stop();
  await Promise.all([vhost.dispose(), database.dispose()]);
});

const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
};

describe("devices", () => {
  test("register, read, list, rename and remove a device", async () => {
    const created = await call("POST", "/api/v1/devices", { id: "lamp-1", vendor: "generic", name: "Hall lamp", metadata: { floor: 1 } });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/api/v1/devices/lamp-1");
    expect(created.body).toMatchObject({ id: "lamp-1", vendor: "generic", name: "Hall lamp", metadata: { floor: 1 }, online: false, lastSeenAt: null });
    await call("POST", "/api/v1/devices", { id: "lamp-2", vendor: "tuya" });

    const one = await call("GET", "/api/v1/devices/lamp-1");
    expect(one.status).toBe(200);
    expect(one.body.state).toEqual({});

    const page = await call("GET", "/api/v1/devices?limit=1");
    expect(page.body.items.map((d: { id: string }) => d.id)).toEqual(["lamp-1"]);
    const next = await call("GET", `/api/v1/devices?limit=1&after=${page.body.nextCursor}`);
    expect(next.body.items.map((d: { id: string }) => d.id)).toEqual(["lamp-2"]);
    expect((await call("GET", "/api/v1/devices?vendor=tuya")).body.items).toHaveLength(1);

    const renamed = await call("PATCH", "/api/v1/devices/lamp-1", { name: "Porch lamp" });
    expect(renamed.body).toMatchObject({ name: "Porch lamp", metadata: { floor: 1 } });

    expect((await call("DELETE", "/api/v1/devices/lamp-2")).status).toBe(204);
    expect((await call("GET", "/api/v1/devices/lamp-2")).status).toBe(404);
  });

  test("errors are JSON with a code and a message a user can act on", async () => {
    const dup = await call("POST", "/api/v1/devices", { id: "lamp-1", vendor: "generic" });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("conflict");

    const bad = await call("POST", "/api/v1/devices", { id: "a/b", vendor: "generic" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.message).toContain("/id");

    const vendor = await call("POST", "/api/v1/devices", { id: "x", vendor: "acme" });
    expect(vendor.status).toBe(400);

    const missing = await call("GET", "/api/v1/devices/nope");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: "not_found", message: "device 'nope' does not exist" });

    const malformed = await call("POST", "/api/v1/devices", "{nope");
    expect(malformed.status).toBe(400);
  });

  test("a body over the size limit is refused with 413, not processed", async () => {
    const res = await fetch(`${base}/api/v1/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "big", vendor: "generic", name: "x".repeat(2_000_000) }),
    });
    expect(res.status).toBe(413);
  });

  test("a chunked body, which declares no length, is refused with the same JSON 413 once it passes the limit", async () => {
    const chunked = (bytes: number) => {
      const body = JSON.stringify({ id: `chunked-${bytes}`, vendor: "generic", name: "x".repeat(bytes) });
      // A stream of unknown length makes fetch send it chunked, without Content-Length.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < body.length; i += 65_536) controller.enqueue(new TextEncoder().encode(body.slice(i, i + 65_536)));
          controller.close();
        },
      });
      return fetch(`${base}/api/v1/devices`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: stream,
      });
    };
    const big = await chunked(2_000_000);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("body_too_large");
    const small = await chunked(10);
    expect(small.status).toBe(201);
  });
});

describe("messages", () => {
  test("the message log pages newest first, filtered by kind", async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await sql`insert into devices (id, vendor) values ('meter', 'generic')`;
    for (let i = 0; i < 5; i++) {
      const kind = i % 2 === 0 ? "property.report" : "event.report";
      await sql`insert into message_log (id, device_id, dedupe_key, vendor, kind, ts, received_at, data)
        values (${Bun.randomUUIDv7()}, 'meter', ${`id:${i}`}, 'generic', ${kind}, now(), now(), ${sql.json({ n: i })})`;
    }
    await sql.end();
    const first = await call("GET", "/api/v1/devices/meter/messages?limit=2");
    expect(first.body.items.map((m: { data: { n: number } }) => m.data.n)).toEqual([4, 3]);
    const second = await call("GET", `/api/v1/devices/meter/messages?limit=2&before=${first.body.nextCursor}`);
    expect(second.body.items.map((m: { data: { n: number } }) => m.data.n)).toEqual([2, 1]);
    const events = await call("GET", "/api/v1/devices/meter/messages?kind=event.report");
    expect(events.body.items.map((m: { data: { n: number } }) => m.data.n)).toEqual([3, 1]);
    expect((await call("GET", "/api/v1/devices/none/messages")).status).toBe(404);
  });
});

describe("commands", () => {
  test("POST a command: 202 with its id, stored queued, and published as a service call", async () => {
    const conn = await amqplib.connect(vhost.url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, "iot.*.service.#");
    const got: amqplib.ConsumeMessage[] = [];
    await ch.consume(queue, (m) => m && got.push(m), { noAck: true });

    const res = await call("POST", "/api/v1/devices/lamp-1/commands", { service: "blink", params: { times: 3 } });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("queued");
    expect(res.headers.get("location")).toBe(`/api/v1/commands/${res.body.id}`);

    await eventually(() => got.length === 1, 3000, "service call published");
    expect(got[0]!.fields.routingKey).toBe("iot.generic.service.service.call");
    expect(JSON.parse(got[0]!.content.toString())).toMatchObject({
      vendor: "generic",
      deviceId: "lamp-1",
      kind: "service.call",
      correlationId: res.body.id,
      data: { service: "blink", params: { times: 3 } },
    });
    const stored = await call("GET", `/api/v1/commands/${res.body.id}`);
    expect(stored.body).toMatchObject({ id: res.body.id, status: "queued", service: "blink", params: { times: 3 } });
    await conn.close();
  });

  test("a command to an unknown device is 404; an unknown command is 404", async () => {
    expect((await call("POST", "/api/v1/devices/ghost/commands", { service: "x" })).status).toBe(404);
    expect((await call("GET", `/api/v1/commands/${Bun.randomUUIDv7()}`)).status).toBe(404);
    expect((await call("POST", "/api/v1/devices/lamp-1/commands", {})).status).toBe(400);
  });
});

describe("service surface", () => {
  test("health, readiness and the OpenAPI document and UI, with no CDN", async () => {
    expect((await call("GET", "/health")).body).toEqual({ status: "ok" });
    expect((await call("GET", "/ready")).body).toEqual({ ready: true, checks: { rabbitmq: "up", postgres: "up" } });
    const spec = await call("GET", "/openapi/json");
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/devices/",
        "/api/v1/devices/{id}",
        "/api/v1/devices/{id}/commands",
        "/api/v1/devices/{id}/messages",
        "/api/v1/commands/{id}",
      ]),
    );
    const ui = await (await fetch(`${base}/openapi`)).text();
    expect(ui).toContain("/openapi/assets/swagger-ui-bundle.js");
    expect(ui).not.toMatch(/unpkg|jsdelivr|cdn\./);
    const script = await fetch(`${base}/openapi/assets/swagger-ui-bundle.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
  });
});
