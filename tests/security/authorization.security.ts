import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { grants, isRole, mintToken, ROLES } from "@umos/auth";
import { silentLogger } from "@umos/core";
import type { App } from "@umos/runtime";
import { deadLetterRepository, openMigratedDatabase, writeBatch, type Database } from "@umos/store";
import {
  createDatabase,
  createInfluxDatabase,
  createVhost,
  jsonClient,
  TEST_JWT_SECRET,
  testConfig,
  testToken,
  type TestDatabase,
  type TestInfluxDatabase,
  type TestVhost,
  inProcess,
} from "@umos/testkit";
import { createApp } from "../../apps/iot-api/src/app";
import { rawRequest } from "./raw-http";
import { tally } from "./tally";

/**
 * The authorization matrix (docs/design.md §8): every route of the OpenAPI document, and the public pages
 * it leaves out, against every kind of credential, on a real iot-api over RabbitMQ and PostgreSQL.
 * A route's expected answer comes from the access it declares (`x-umos-access`): the right role
 * gets a 2xx, a weaker one 403, a bad or missing token 401, and public routes answer anyone. Then
 * the same routes again through path forms that different readers parse differently.
 */
const WEBHOOK_TOKEN = "webhook-token-of-the-security-suite";
const ACCESS_KEY = "x-umos-access";

let vhost: TestVhost;
let database: TestDatabase;
let influx: TestInfluxDatabase;
let db: Database;
let hsApi: App;
let rsApi: App;
let jwks: ReturnType<typeof Bun.serve>;
let admin: ReturnType<typeof jsonClient>;
const credentials: Record<string, string | undefined> = {};
let rsSwapToken: string;
let firmwareDir: string | undefined;

/** Pages iot-api serves to anyone that the OpenAPI document does not list. */
const HIDDEN_PUBLIC = ["/health", "/ready", "/metrics", "/openapi", "/openapi/json", "/openapi/assets/swagger-ui.css", "/console/config", "/"];

beforeAll(async () => {
  [vhost, database, influx] = await Promise.all([createVhost(), createDatabase(), createInfluxDatabase()]);
  const endpoints = { busUrl: vhost.url, postgresUrl: database.url };
  firmwareDir = mkdtempSync(join(tmpdir(), "umos-sec-firmware-"));
  const common = {
    UMOS_FIRMWARE__DIR: firmwareDir,
    UMOS_AUTH__WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    UMOS_MQTT__USERNAME: "iot-gateway",
    UMOS_MQTT__PASSWORD: "gateway-password",
    UMOS_INFLUX__URL: influx.url,
    UMOS_INFLUX__BUCKET: influx.database,
  };
  hsApi = inProcess(createApp, testConfig(endpoints, common), "iot-api");

  // A second API that verifies RS256 tokens against a JWKS, for the algorithm-confusion attack:
  // an HS256 token whose HMAC key is the RSA public key, which a careless verifier would accept.
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  jwks = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async () => Response.json({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" }] }),
  });
  rsApi = inProcess(
    createApp,
    testConfig(endpoints, { ...common, UMOS_AUTH__ALGORITHM: "RS256", UMOS_AUTH__JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks` }),
    "iot-api",
  );
  await Promise.all([hsApi.start(), rsApi.start()]);
  db = await openMigratedDatabase({ url: database.url, maxConnections: 2, connectTimeoutMs: 5000 }, silentLogger);

  const claims = (role: string) => new SignJWT({ role }).setSubject("attacker").setIssuer("umos").setAudience("umos-api").setIssuedAt().setExpirationTime("1h");
  rsSwapToken = await claims("admin")
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(await exportSPKI(publicKey)));
  const unsigned = (payload: object) => `${b64(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64(JSON.stringify(payload))}.`;
  const now = Math.floor(Date.now() / 1000);
  Object.assign(credentials, {
    none: undefined,
    malformed: "not.a.jwt",
    forged: await testToken("admin", { secret: "an-attacker-secret-0123456789abcdef" }),
    expired: await testToken("admin", { ttlSec: -120 }),
    "wrong audience": await testToken("admin", { audience: "another-api" }),
    "wrong issuer": await mintToken({ secret: TEST_JWT_SECRET, issuer: "someone-else", audience: "umos-api", role: "admin" }),
    "alg none": unsigned({ role: "admin", sub: "attacker", iss: "umos", aud: "umos-api", exp: now + 3600 }),
    "RS256 token on an HS256 API": await claims("admin").setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(privateKey),
    viewer: await testToken("viewer"),
    operator: await testToken("operator"),
    admin: await testToken("admin"),
  });
  admin = jsonClient(`http://127.0.0.1:${hsApi.port}`, credentials.admin);
  await seed();
}, 60_000);

afterAll(async () => {
  await Promise.all([hsApi?.stop(), rsApi?.stop()]);
  jwks?.stop(true);
  await db?.close();
  await Promise.all([vhost?.dispose(), database?.dispose(), influx?.dispose()]);
  if (firmwareDir) rmSync(firmwareDir, { recursive: true, force: true });
});

const b64 = (text: string) => Buffer.from(text).toString("base64url");

// ---------------------------------------------------------------------------------------------
// What each route needs to answer 2xx to a caller who may call it: a fresh target where the call
// changes or removes one, so every role's call finds the state the route expects.

interface Call {
  path: string;
  body?: unknown;
}

let unique = 0;
const next = (prefix: string) => `${prefix}-${++unique}`;

async function newDevice(): Promise<string> {
  const id = next("sec-dev");
  expect((await admin.post("/api/v1/devices", { id, vendor: "generic", model: { id: "sec-model" } })).status).toBe(201);
  return id;
}

/** A queued command: the device never connects, so it waits to be sent. */
async function newCommand(): Promise<string> {
  const created = await admin.post("/api/v1/devices/sec-device/commands", { service: "blink" });
  expect(created.status).toBe(202);
  return created.body.id;
}

async function newModel(): Promise<string> {
  const id = next("sec-model");
  expect((await admin.post("/api/v1/thing-models", { id, definition: MODEL })).status).toBe(201);
  return id;
}

async function newDeadLetter(): Promise<string> {
  const repository = deadLetterRepository(db.sql);
  const key = next("dl");
  await repository.archive([
    {
      dedupeKey: key,
      queue: "iot-uplink-queue",
      code: "invalid_frame",
      reason: "made by the security suite",
      routingKey: "iot.generic.device.property.report",
      messageId: Bun.randomUUIDv7(),
      contentType: "application/json",
      deviceId: "sec-device",
      headers: { "x-device-id": "sec-device" },
      payload: new TextEncoder().encode('{"data":{}}'),
      payloadSize: 11,
      replayCount: 0,
      deadLetteredAt: new Date(),
    },
  ]);
  const page = await admin.get("/api/v1/dead-letters?limit=1&state=pending");
  return page.body.items[0].id;
}

const MODEL = {
  properties: [{ identifier: "level", accessMode: "rw", dataType: { type: "int", specs: { min: 0, max: 10 } } }],
  services: [{ identifier: "blink", callType: "async", inputData: [], outputData: [] }],
};

/** An active, unacknowledged alarm on sec-device, as iot-rules would have raised it. */
async function newAlarm(): Promise<string> {
  const id = Bun.randomUUIDv7();
  const source = `rule:${next("sec-alarm")}`;
  await db.sql`
    insert into alarms (id, device_id, vendor, source, type, severity, status, started_at, last_seen_at)
    values (${id}, 'sec-device', 'generic', ${source}, ${source}, 'major', 'active', now(), now())`;
  return id;
}

const RULE = { levels: [{ severity: "major", when: { property: "level", op: "gt", value: 8 }, forMs: 60_000 }] };

async function newRule(): Promise<string> {
  const id = next("sec-rule");
  expect((await admin.post("/api/v1/rules", { id, name: id, model: "sec-model", definition: RULE })).status).toBe(201);
  return id;
}

const JOB = { name: "sec-job", target: { devices: ["sec-device"] }, operation: { kind: "service", service: "blink" } };

/** A webhook channel without a secret; its URL refuses connections, so a test send answers at once. */
const CHANNEL = { name: "sec-channel", kind: "webhook", webhook: { url: "http://127.0.0.1:9/hook" }, triggers: ["alarm.raised"] };

async function newGroup(): Promise<string> {
  const id = next("sec-group");
  expect((await admin.post("/api/v1/groups", { id })).status).toBe(201);
  return id;
}

/** A two-byte firmware package: what it holds does not matter to who may touch it. */
async function newPackage(): Promise<string> {
  const created = await admin.post(`/api/v1/firmware?vendor=generic&version=${next("1.0")}&fileName=sec.bin`, {});
  expect(created.status).toBe(201);
  return created.body.id;
}

/** A static group that lists sec-device, for the route that takes a device out of one. */
async function newMembership(): Promise<string> {
  const id = await newGroup();
  expect((await admin.post(`/api/v1/groups/${id}/members`, { deviceIds: ["sec-device"] })).status).toBe(200);
  return id;
}

/** A job that starts in an hour, so every state change of the matrix finds it scheduled. */
async function newJob(): Promise<string> {
  const created = await admin.post("/api/v1/jobs", { ...JOB, startAt: new Date(Date.now() + 3_600_000).toISOString() });
  expect(created.status).toBe(201);
  return created.body.id;
}

async function newPausedJob(): Promise<string> {
  const id = await newJob();
  expect((await admin.post(`/api/v1/jobs/${id}/pause`, {})).status).toBe(200);
  return id;
}

async function newChannel(): Promise<string> {
  const created = await admin.post("/api/v1/notification-channels", CHANNEL);
  expect(created.status).toBe(201);
  return created.body.id;
}

let seededChannel: string;
let seededCommand: string;
let seededDeadLetter: string;
let seededAlarm: string;
let seededRule: string;
let seededPackage: string;

async function seed(): Promise<void> {
  expect((await admin.post("/api/v1/thing-models", { id: "sec-model", definition: MODEL })).status).toBe(201);
  expect((await admin.post("/api/v1/devices", { id: "sec-device", vendor: "generic", model: { id: "sec-model" } })).status).toBe(201);
  expect((await admin.post("/api/v1/groups", { id: "sec-group" })).status).toBe(201);
  // A request the device asked (DJI `requests`), for the reply route to answer.
  await writeBatch(db.sql, [
    {
      envelope: {
        id: Bun.randomUUIDv7(),
        ts: Date.now(),
        vendor: "generic",
        deviceId: "sec-device",
        kind: "request",
        data: { method: "config", tid: "sec-tid", bid: "sec-bid", data: {} },
      },
      dedupeKey: "request:sec-tid",
      receivedAt: Date.now(),
      problems: [],
    },
  ]);
  seededCommand = await newCommand();
  seededDeadLetter = await newDeadLetter();
  seededAlarm = await newAlarm();
  seededRule = await newRule();
  seededChannel = await newChannel();
  seededPackage = await newPackage();
}

const fixtures: Record<string, () => Promise<Call>> = {
  "GET /api/v1/devices": async () => ({ path: "/api/v1/devices" }),
  "POST /api/v1/devices": async () => ({ path: "/api/v1/devices", body: { id: next("sec-new"), vendor: "generic" } }),
  "GET /api/v1/devices/{id}": async () => ({ path: "/api/v1/devices/sec-device" }),
  "PATCH /api/v1/devices/{id}": async () => ({ path: "/api/v1/devices/sec-device", body: { name: "patched" } }),
  "DELETE /api/v1/devices/{id}": async () => ({ path: `/api/v1/devices/${await newDevice()}` }),
  "POST /api/v1/devices/{id}/credentials": async () => ({ path: `/api/v1/devices/${await newDevice()}/credentials` }),
  "PATCH /api/v1/devices/{id}/properties": async () => ({ path: "/api/v1/devices/sec-device/properties", body: { level: 3 } }),
  "GET /api/v1/devices/{id}/messages": async () => ({ path: "/api/v1/devices/sec-device/messages" }),
  "GET /api/v1/devices/{id}/telemetry": async () => ({ path: "/api/v1/devices/sec-device/telemetry?property=level" }),
  "GET /api/v1/devices/{id}/telemetry/series": async () => ({ path: "/api/v1/devices/sec-device/telemetry/series?property=level&property=temperature" }),
  "GET /api/v1/devices/{id}/telemetry/events": async () => ({ path: "/api/v1/devices/sec-device/telemetry/events?event=door" }),
  "GET /api/v1/devices/{id}/telemetry/values": async () => ({ path: "/api/v1/devices/sec-device/telemetry/values?property=level" }),
  "GET /api/v1/devices/{id}/telemetry/event-list": async () => ({ path: "/api/v1/devices/sec-device/telemetry/event-list?event=door" }),
  "GET /api/v1/devices/{id}/telemetry/export": async () => ({ path: "/api/v1/devices/sec-device/telemetry/export?name=level" }),
  "POST /api/v1/devices/import": async () => ({ path: "/api/v1/devices/import", body: { devices: [{ id: next("sec-imported"), vendor: "generic" }] } }),
  "GET /api/v1/groups": async () => ({ path: "/api/v1/groups" }),
  "POST /api/v1/groups": async () => ({ path: "/api/v1/groups", body: { id: next("sec-group"), query: 'tag = "roof"' } }),
  "GET /api/v1/groups/{id}": async () => ({ path: "/api/v1/groups/sec-group" }),
  "PATCH /api/v1/groups/{id}": async () => ({ path: "/api/v1/groups/sec-group", body: { name: "patched" } }),
  "DELETE /api/v1/groups/{id}": async () => ({ path: `/api/v1/groups/${await newGroup()}` }),
  "GET /api/v1/groups/{id}/members": async () => ({ path: "/api/v1/groups/sec-group/members" }),
  "POST /api/v1/groups/{id}/members": async () => ({ path: "/api/v1/groups/sec-group/members", body: { deviceIds: ["sec-device"] } }),
  "DELETE /api/v1/groups/{id}/members/{deviceId}": async () => ({ path: `/api/v1/groups/${await newMembership()}/members/sec-device` }),
  "POST /api/v1/jobs": async () => ({ path: "/api/v1/jobs", body: { ...JOB, startAt: new Date(Date.now() + 3_600_000).toISOString() } }),
  "GET /api/v1/jobs": async () => ({ path: "/api/v1/jobs" }),
  "GET /api/v1/jobs/{id}": async () => ({ path: `/api/v1/jobs/${await newJob()}` }),
  "GET /api/v1/jobs/{id}/executions": async () => ({ path: `/api/v1/jobs/${await newJob()}/executions` }),
  "POST /api/v1/jobs/{id}/pause": async () => ({ path: `/api/v1/jobs/${await newJob()}/pause` }),
  "POST /api/v1/jobs/{id}/resume": async () => ({ path: `/api/v1/jobs/${await newPausedJob()}/resume` }),
  "POST /api/v1/jobs/{id}/cancel": async () => ({ path: `/api/v1/jobs/${await newJob()}/cancel` }),
  "POST /api/v1/firmware": async () => ({ path: `/api/v1/firmware?vendor=generic&version=${next("2.0")}&fileName=sec.bin`, body: {} }),
  "GET /api/v1/firmware": async () => ({ path: "/api/v1/firmware" }),
  "GET /api/v1/firmware/{id}": async () => ({ path: `/api/v1/firmware/${seededPackage}` }),
  "DELETE /api/v1/firmware/{id}": async () => ({ path: `/api/v1/firmware/${await newPackage()}` }),
  "POST /api/v1/firmware/{id}/links": async () => ({ path: `/api/v1/firmware/${seededPackage}/links`, body: {} }),
  "GET /api/v1/firmware/{id}/download": async () => ({ path: `/api/v1/firmware/${seededPackage}/download` }),
  "GET /api/v1/retention": async () => ({ path: "/api/v1/retention" }),
  "PUT /api/v1/retention": async () => ({ path: "/api/v1/retention", body: { deadLetters: 30 } }),
  "POST /api/v1/devices/{id}/commands": async () => ({ path: "/api/v1/devices/sec-device/commands", body: { service: "blink" } }),
  "GET /api/v1/devices/{id}/commands": async () => ({ path: "/api/v1/devices/sec-device/commands" }),
  "POST /api/v1/devices/{id}/requests/{tid}/reply": async () => ({ path: "/api/v1/devices/sec-device/requests/sec-tid/reply", body: { result: 0 } }),
  "GET /api/v1/commands/{id}": async () => ({ path: `/api/v1/commands/${seededCommand}` }),
  "DELETE /api/v1/commands/{id}": async () => ({ path: `/api/v1/commands/${await newCommand()}` }),
  "GET /api/v1/thing-models": async () => ({ path: "/api/v1/thing-models" }),
  "POST /api/v1/thing-models": async () => ({ path: "/api/v1/thing-models", body: { id: next("sec-created"), definition: MODEL } }),
  "POST /api/v1/thing-models/import": async () => ({
    path: "/api/v1/thing-models/import",
    body: { id: next("sec-imported"), vendor: "generic", document: MODEL },
  }),
  "GET /api/v1/thing-models/{id}": async () => ({ path: "/api/v1/thing-models/sec-model" }),
  "PUT /api/v1/thing-models/{id}": async () => ({ path: "/api/v1/thing-models/sec-model", body: { definition: MODEL } }),
  "DELETE /api/v1/thing-models/{id}": async () => ({ path: `/api/v1/thing-models/${await newModel()}` }),
  "GET /api/v1/thing-models/{id}/versions": async () => ({ path: "/api/v1/thing-models/sec-model/versions" }),
  "GET /api/v1/thing-models/{id}/versions/{version}": async () => ({ path: "/api/v1/thing-models/sec-model/versions/1" }),
  "GET /api/v1/dead-letters": async () => ({ path: "/api/v1/dead-letters" }),
  "GET /api/v1/dead-letters/{id}": async () => ({ path: `/api/v1/dead-letters/${seededDeadLetter}` }),
  "DELETE /api/v1/dead-letters/{id}": async () => ({ path: `/api/v1/dead-letters/${await newDeadLetter()}` }),
  "POST /api/v1/dead-letters/{id}/replay": async () => ({ path: `/api/v1/dead-letters/${await newDeadLetter()}/replay` }),
  "POST /api/v1/dead-letters/replay": async () => ({ path: "/api/v1/dead-letters/replay", body: { deviceId: "no-such-device" } }),
  "GET /api/v1/alarms": async () => ({ path: "/api/v1/alarms?status=active&severity=major,critical" }),
  "GET /api/v1/alarms/summary": async () => ({ path: "/api/v1/alarms/summary" }),
  "GET /api/v1/alarms/{id}": async () => ({ path: `/api/v1/alarms/${seededAlarm}` }),
  "POST /api/v1/alarms/{id}/acknowledge": async () => ({ path: `/api/v1/alarms/${await newAlarm()}/acknowledge` }),
  "POST /api/v1/alarms/{id}/clear": async () => ({ path: `/api/v1/alarms/${await newAlarm()}/clear` }),
  "PUT /api/v1/alarms/{id}/assignee": async () => ({ path: `/api/v1/alarms/${seededAlarm}/assignee`, body: { assignee: "sec-operator" } }),
  "POST /api/v1/alarms/{id}/comments": async () => ({ path: `/api/v1/alarms/${seededAlarm}/comments`, body: { text: "looking" } }),
  "GET /api/v1/devices/{id}/alarms": async () => ({ path: "/api/v1/devices/sec-device/alarms" }),
  "GET /api/v1/rules": async () => ({ path: "/api/v1/rules" }),
  "POST /api/v1/rules": async () => ({ path: "/api/v1/rules", body: { id: next("sec-rule"), name: "created", model: "sec-model", definition: RULE } }),
  "POST /api/v1/rules/dry-run": async () => ({
    path: "/api/v1/rules/dry-run",
    body: { rule: { model: "sec-model", definition: RULE }, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() },
  }),
  "GET /api/v1/rules/{id}": async () => ({ path: `/api/v1/rules/${seededRule}` }),
  "GET /api/v1/rules/{id}/versions": async () => ({ path: `/api/v1/rules/${seededRule}/versions` }),
  "PUT /api/v1/rules/{id}": async () => ({ path: `/api/v1/rules/${seededRule}`, body: { name: "changed", model: "sec-model", definition: RULE } }),
  "DELETE /api/v1/rules/{id}": async () => ({ path: `/api/v1/rules/${await newRule()}` }),
  "GET /api/v1/notification-channels": async () => ({ path: "/api/v1/notification-channels" }),
  "POST /api/v1/notification-channels": async () => ({ path: "/api/v1/notification-channels", body: CHANNEL }),
  "GET /api/v1/notification-channels/{id}": async () => ({ path: `/api/v1/notification-channels/${seededChannel}` }),
  "PUT /api/v1/notification-channels/{id}": async () => ({ path: `/api/v1/notification-channels/${seededChannel}`, body: CHANNEL }),
  "DELETE /api/v1/notification-channels/{id}": async () => ({ path: `/api/v1/notification-channels/${await newChannel()}` }),
  "POST /api/v1/notification-channels/{id}/test": async () => ({ path: `/api/v1/notification-channels/${seededChannel}/test` }),
  "GET /api/v1/notification-channels/{id}/deliveries": async () => ({ path: `/api/v1/notification-channels/${seededChannel}/deliveries` }),
  "POST /api/v1/webhooks/vernemq": async () => ({
    path: "/api/v1/webhooks/vernemq",
    body: { client_id: "sec-device", username: "sec-device", password: "wrong" },
  }),
};

interface Route {
  method: string;
  key: string;
  access: string;
}

/** Every operation of the OpenAPI document with its declared access, and the hidden public pages. */
async function routes(): Promise<Route[]> {
  const spec = (await admin.get("/openapi/json")).body as { paths: Record<string, Record<string, Record<string, unknown>>> };
  const documented = Object.entries(spec.paths).flatMap(([path, operations]) =>
    // A prefix's own route is documented with its trailing slash; it answers without one too.
    Object.entries(operations).map(([method, operation]) => ({
      method: method.toUpperCase(),
      key: `${method.toUpperCase()} ${path.replace(/(.)\/$/, "$1")}`,
      access: String(operation[ACCESS_KEY]),
    })),
  );
  return [...documented, ...HIDDEN_PUBLIC.map((path) => ({ method: "GET", key: `GET ${path}`, access: "public" }))];
}

async function prepare(route: Route): Promise<Call> {
  if (route.access === "public") return { path: route.key.slice(4) };
  const fixture = fixtures[route.key];
  if (!fixture) throw new Error(`no fixture for ${route.key}: give the new route one, so the matrix covers it`);
  return fixture();
}

async function send(port: number, method: string, call: Call, token: string | undefined) {
  const res = await fetch(`http://127.0.0.1:${port}${call.path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(call.body === undefined ? {} : { "content-type": "application/json" }) },
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The class of answer the rules give this credential on this route: "2xx", 401 or 403. */
function expected(access: string, credential: string): "2xx" | 401 | 403 {
  if (access === "public") return "2xx";
  // A signed route checks its link, not who calls: without the link, nobody gets in.
  if (access === "signed") return 403;
  if (access === "webhook" || !isRole(credential)) return 401;
  return grants(credential, access as (typeof ROLES)[number]) ? "2xx" : 403;
}

const matches = (status: number, want: "2xx" | number) => (want === "2xx" ? status >= 200 && status < 300 : status === want);

describe("authorization matrix", () => {
  test("every route answers every credential as its declared access says: 2xx, 401 or 403", async () => {
    const family = tally("authorization: routes x credentials");
    const all = await routes();
    expect(all.filter((r) => !["public", "webhook", "signed", ...ROLES].includes(r.access)).map((r) => r.key)).toEqual([]);
    for (const route of all) {
      for (const [name, token] of Object.entries(credentials)) {
        const want = expected(route.access, name);
        const status = await send(hsApi.port, route.method, await prepare(route), token);
        family.check(`${route.key} with ${name}`, matches(status, want), { refusal: want !== "2xx", detail: `got ${status}, want ${want}` });
      }
      // The algorithm-confusion attack, against the API that verifies RS256 against a JWKS.
      const want = route.access === "public" ? "2xx" : route.access === "signed" ? 403 : 401;
      const status = await send(rsApi.port, route.method, await prepare(route), rsSwapToken);
      family.check(`${route.key} with an HS256 token keyed by the RS256 public key`, matches(status, want), {
        refusal: want !== "2xx",
        detail: `got ${status}`,
      });
      if (route.access === "signed") {
        // The link the route signs opens it to anyone holding it; one for another package does not.
        const link = await admin.post(`/api/v1/firmware/${seededPackage}/links`, {});
        const other = await admin.post(`/api/v1/firmware/${await newPackage()}/links`, {});
        const swapped = new URL(other.body.url).search;
        for (const [name, url, want] of [
          ["its signed link", link.body.url as string, 200],
          ["another package's signature", `${new URL(link.body.url).pathname}${swapped}`, 403],
        ] as const) {
          const res = await fetch(
            url.startsWith("http") ? url.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${hsApi.port}`) : `http://127.0.0.1:${hsApi.port}${url}`,
          );
          await res.arrayBuffer();
          family.check(`${route.key} with ${name}`, res.status === want, { refusal: want === 403, detail: `got ${res.status}` });
        }
      }
      if (route.access === "webhook") {
        const call = await prepare(route);
        for (const [token, want] of [
          [WEBHOOK_TOKEN, 200],
          ["webhook-token-of-the-security-suitf", 401],
        ] as const) {
          const res = await fetch(`http://127.0.0.1:${hsApi.port}${call.path}?token=${token}`, {
            method: "POST",
            headers: { "content-type": "application/json", "vernemq-hook": "auth_on_register" },
            body: JSON.stringify(call.body),
          });
          family.check(`${route.key} with ${token === WEBHOOK_TOKEN ? "its" : "a wrong"} webhook token`, res.status === want, {
            refusal: want === 401,
            detail: `got ${res.status}`,
          });
        }
      }
    }
    // A valid admin token in the URL is a token in logs and browser history: REST never takes it.
    for (const route of all.filter((r) => isRole(r.access))) {
      const call = await prepare(route);
      const status = await send(
        hsApi.port,
        route.method,
        { ...call, path: `${call.path}${call.path.includes("?") ? "&" : "?"}token=${credentials.admin}` },
        undefined,
      );
      family.check(`${route.key} with ?token=`, status === 401, { refusal: true, detail: `got ${status}` });
    }
    expect(family.report()).toEqual([]);
  }, 120_000);

  test("path forms that routers read differently are refused or read as the plain path, never as another route", async () => {
    const family = tally("authorization: path tricks");
    const all = await routes();
    const viewerToken = credentials.viewer;
    for (const route of all) {
      for (const [name, token] of [
        ["no token", undefined],
        ["viewer", viewerToken],
      ] as const) {
        const plain = expected(route.access, token ? "viewer" : "none");
        const tricks: Array<[string, (path: string) => { target: string; host?: string }, "plain" | 400 | 404]> = [
          ["a short Host", (p) => ({ target: `/XX${p}`, host: "a" }), 400],
          ["an empty first segment", (p) => ({ target: `/${p}` }), 400],
          ["an encoded slash", (p) => ({ target: p.replace(/\/([^/]*)$/, "%2F$1") }), 400],
          ["a dot-dot segment", (p) => ({ target: `/x/..${p}` }), "plain"],
          ["an absolute-form target", (p) => ({ target: `http://evil.example${p}` }), "plain"],
          ["backslashes", (p) => ({ target: p.replaceAll("/", "\\") }), "plain"],
          ["upper case", (p) => ({ target: p.toUpperCase() }), 404],
        ];
        for (const [trick, make, rule] of tricks) {
          const call = await prepare(route);
          const { target, host } = make(call.path);
          // A path with one segment has no inner slash to encode; "/" has no case.
          if (target === call.path || !target.includes("/")) continue;
          const status = await rawRequest(hsApi.port, { method: route.method, target, host, token, body: call.body });
          const want = rule === "plain" ? plain : rule;
          // Upper case must miss the route (routes are case-sensitive); any refusal will do, never an answer.
          const ok = rule === 404 ? status >= 400 && status < 500 : matches(status, want);
          family.check(`${route.key}, ${name}, ${trick} (${target})`, ok, { refusal: want !== "2xx", detail: `got ${status}, want ${want}` });
        }
      }
    }
    // The request from the report that opened this work: it registered a device without a token.
    const report = await rawRequest(hsApi.port, { method: "POST", target: "/XX/api/v1/devices", host: "a", body: { id: "x", vendor: "generic" } });
    family.check("POST /XX/api/v1/devices with Host: a", report === 400 || report === 401, { refusal: true, detail: `got ${report}` });
    expect(family.report()).toEqual([]);
  }, 120_000);
});
