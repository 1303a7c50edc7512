import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { App } from "@umos/runtime";
import { createBusFile, createDatabase, testConfig, testToken, type Json, type TestBusFile, type TestDatabase, inProcess } from "@umos/testkit";
import { createApp } from "../src/app";

const WEBHOOK_TOKEN = "webhook-token-for-tests-0123";
let busFile: TestBusFile;
let database: TestDatabase;
let api: App;
let base: string;
let admin: string;

beforeAll(async () => {
  [busFile, database] = await Promise.all([createBusFile(), createDatabase()]);
  const config = testConfig(
    { busUrl: busFile.url, postgresUrl: database.url },
    {
      UMOS_MQTT__USERNAME: "iot-gateway",
      UMOS_MQTT__PASSWORD: "gateway-password",
      UMOS_AUTH__WEBHOOK_CACHE_SEC: "120",
      UMOS_AUTH__WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    },
  );
  api = inProcess(createApp, config, "iot-api");
  await api.start();
  base = `http://127.0.0.1:${api.port}`;
  admin = await testToken("admin");
});

afterAll(async () => {
  await api.stop();
  await Promise.all([busFile.dispose(), database.dispose()]);
});

async function call(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json };
}

describe("JWT and roles", () => {
  test("no token, an expired one, a forged signature or the wrong audience: 401 with a JSON error saying which", async () => {
    const none = await call("GET", "/api/v1/devices", undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(none.body.error).toEqual({ code: "unauthorized", message: "a Bearer token is required (Authorization: Bearer <jwt>)" });

    const expired = await call("GET", "/api/v1/devices", await testToken("admin", { ttlSec: -120 }));
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe("the token has expired");

    const forged = await call("GET", "/api/v1/devices", await testToken("admin", { secret: "an-attacker-secret-0123456789abcdef" }));
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toBe("the token's signature does not verify");

    const audience = await call("GET", "/api/v1/devices", await testToken("admin", { audience: "another-api" }));
    expect(audience.status).toBe(401);
    expect(audience.body.error.message).toBe("the token's aud claim is not accepted here");

    expect((await call("GET", "/api/v1/devices", "not.a.jwt")).status).toBe(401);
  });

  test("a stranger learns nothing of the schema: an unauthenticated bad body is 401, not 400", async () => {
    expect((await call("POST", "/api/v1/devices", undefined, { id: "a/b" })).status).toBe(401);
  });

  test("viewer reads but cannot command (403); operator commands (202) but cannot register devices (403)", async () => {
    expect((await call("POST", "/api/v1/devices", admin, { id: "lamp", vendor: "generic" })).status).toBe(201);
    const viewer = await testToken("viewer");
    const operator = await testToken("operator");
    expect((await call("GET", "/api/v1/devices/lamp", viewer)).status).toBe(200);
    const denied = await call("POST", "/api/v1/devices/lamp/commands", viewer, { service: "blink" });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ code: "forbidden", message: "POST /api/v1/devices/lamp/commands needs the operator role; the token has viewer" });
    expect((await call("POST", "/api/v1/devices/lamp/commands", operator, { service: "blink" })).status).toBe(202);
    expect((await call("POST", "/api/v1/devices", operator, { id: "lamp-2", vendor: "generic" })).status).toBe(403);
    expect((await call("DELETE", "/api/v1/devices/lamp", operator)).status).toBe(403);
  });

  test("health, readiness and the API docs stay public", async () => {
    expect((await call("GET", "/health", undefined)).status).toBe(200);
    expect((await call("GET", "/openapi/json", undefined)).status).toBe(200);
  });
});

describe("inputs", () => {
  test("unknown fields are refused, not silently dropped, and the service keeps serving", async () => {
    const extra = await call("POST", "/api/v1/devices", admin, { id: "x1", vendor: "generic", colour: "red" });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe("invalid_request");
    const command = await call("POST", "/api/v1/devices/lamp/commands", admin, { service: "blink", priority: 9 });
    expect(command.status).toBe(400);
    expect((await call("GET", "/api/v1/devices/lamp", admin)).status).toBe(200);
  });
});

describe("device credentials and the VerneMQ webhooks", () => {
  const hook = (name: string, body: unknown, token = WEBHOOK_TOKEN) =>
    call("POST", `/api/v1/webhooks/vernemq?token=${token}`, undefined, body, { "vernemq-hook": name });
  let password: string;

  beforeAll(async () => {
    const created = await call("POST", "/api/v1/devices", admin, { id: "thermo-9", vendor: "generic" });
    expect(created.body.credentials.username).toBe("thermo-9");
    password = created.body.credentials.password;
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect((await call("GET", "/api/v1/devices/thermo-9", admin)).body.credentials).toBeUndefined();
    await call("POST", "/api/v1/devices", admin, { id: "other-1", vendor: "generic" });
  });

  test("the webhook answers only with its token: none or a wrong one is 401", async () => {
    const login = { username: "thermo-9", password, mountpoint: "", client_id: "thermo-9" };
    expect((await call("POST", "/api/v1/webhooks/vernemq", undefined, login, { "vernemq-hook": "auth_on_register" })).status).toBe(401);
    expect((await hook("auth_on_register", login, "webhook-token-for-tests-0124")).status).toBe(401);
    expect((await hook("auth_on_register", login)).status).toBe(200);
  });

  test("auth_on_register accepts the device's own password, never cached, and refuses a wrong one or a borrowed client id (v3 and m5)", async () => {
    for (const name of ["auth_on_register", "auth_on_register_m5"]) {
      const ok = await hook(name, {
        peer_addr: "127.0.0.1",
        peer_port: 5000,
        username: "thermo-9",
        password,
        mountpoint: "",
        client_id: "thermo-9",
        clean_session: false,
        clean_start: false,
      });
      expect(ok.body).toEqual({ result: "ok" });
      // A cached yes would let a rotated password in until it expired.
      expect(ok.headers.get("cache-control")).toBeNull();
      expect((await hook(name, { username: "thermo-9", password: "guess", mountpoint: "", client_id: "thermo-9" })).body).toEqual({
        result: { error: "not_allowed" },
      });
      expect((await hook(name, { username: "thermo-9", password, mountpoint: "", client_id: "other-1" })).body).toEqual({ result: { error: "not_allowed" } });
    }
    expect((await hook("auth_on_register", { username: "iot-gateway", password: "gateway-password", client_id: "iot-gateway-a-0" })).body).toEqual({
      result: "ok",
    });
    expect((await hook("auth_on_register", { username: "iot-gateway", password: "nope", client_id: "iot-gateway-a-0" })).body.result).toEqual({
      error: "not_allowed",
    });
  });

  test("auth_on_publish: a device publishes its own topics only; the gateway may publish to devices", async () => {
    const publish = (name: string, topic: string, username = "thermo-9", client_id = username) =>
      hook(name, { username, client_id, mountpoint: "", qos: 1, topic, payload: Buffer.from("{}").toString("base64"), retain: false });
    for (const name of ["auth_on_publish", "auth_on_publish_m5"]) {
      const own = await publish(name, "generic/thermo-9/property/report");
      expect(own.body).toEqual({ result: "ok" });
      expect(own.headers.get("cache-control")).toBe("max-age=120");
      expect((await publish(name, "generic/other-1/property/report")).body).toEqual({ result: { error: "not_allowed" } });
      expect((await publish(name, "generic/thermo-9/service/call")).body).toEqual({ result: { error: "not_allowed" } });
      expect((await publish(name, "thing/product/thermo-9/osd")).body).toEqual({ result: { error: "not_allowed" } });
    }
    expect((await publish("auth_on_publish", "generic/thermo-9/service/call", "iot-gateway", "iot-gateway-a-0")).body).toEqual({ result: "ok" });
  });

  test("auth_on_subscribe: own topics stand, another device's are refused (128 in v3, 135 in m5)", async () => {
    const subscribe = (name: string, topics: string[]) =>
      hook(name, { username: "thermo-9", client_id: "thermo-9", mountpoint: "", topics: topics.map((topic) => ({ topic, qos: 1 })) });
    expect((await subscribe("auth_on_subscribe", ["generic/thermo-9/service/call", "generic/thermo-9/property/set"])).body).toEqual({ result: "ok" });
    expect((await subscribe("auth_on_subscribe", ["generic/other-1/service/call"])).body).toEqual({ result: { error: "not_allowed" } });
    expect((await subscribe("auth_on_subscribe", ["generic/+/service/call"])).body).toEqual({ result: { error: "not_allowed" } });
    const mixed = ["generic/thermo-9/service/call", "generic/other-1/service/call"];
    expect((await subscribe("auth_on_subscribe", mixed)).body).toEqual({
      result: "ok",
      topics: [
        { topic: mixed[0], qos: 1 },
        { topic: mixed[1], qos: 128 },
      ],
    });
    expect((await subscribe("auth_on_subscribe_m5", mixed)).body).toEqual({
      result: "ok",
      modifiers: {
        topics: [
          { topic: mixed[0], qos: 1 },
          { topic: mixed[1], qos: 135 },
        ],
      },
    });
  });

  test("a DJI dock acts for its aircraft, and a rotated password replaces the old one", async () => {
    const dock = await call("POST", "/api/v1/devices", admin, { id: "dock-7", vendor: "dji" });
    await call("POST", "/api/v1/devices", admin, { id: "aircraft-7", vendor: "dji" });
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await sql`update devices set parent_id = 'dock-7' where id = 'aircraft-7'`;
    await sql.end();
    const publish = (topic: string) =>
      hook("auth_on_publish", { username: "dock-7", client_id: "dock-7", mountpoint: "", qos: 1, topic, payload: "", retain: false });
    expect((await publish("thing/product/aircraft-7/osd")).body).toEqual({ result: "ok" });
    expect((await publish("thing/product/aircraft-9/osd")).body.result).toEqual({ error: "not_allowed" });

    const rotated = await call("POST", "/api/v1/devices/dock-7/credentials", admin);
    expect(rotated.status).toBe(200);
    const login = (pw: string) => hook("auth_on_register", { username: "dock-7", password: pw, client_id: "dock-7", mountpoint: "" });
    expect((await login(dock.body.credentials.password)).body.result).toEqual({ error: "not_allowed" });
    expect((await login(rotated.body.password)).body).toEqual({ result: "ok" });
    expect((await call("POST", "/api/v1/devices/dock-7/credentials", await testToken("operator"))).status).toBe(403);
  });
});
