import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { eventually, startStack, type Json, type TestStack } from "@umos/testkit";

/**
 * Thing models, the command lifecycle and presence, through all five services with a real MQTT
 * client as the device. Sweeps run fast here so timeouts and expiries are seen in test time.
 */
const SILENCE_MS = 1500;
const PRESENCE_SWEEP_MS = 200;
const KEEPALIVE_S = 1;

let stack: TestStack;
const devices: mqtt.MqttClient[] = [];

beforeAll(async () => {
  stack = await startStack({
    UMOS_DOWNLINK__SWEEP_INTERVAL_MS: "100",
    UMOS_PRESENCE__SILENCE_MS: String(SILENCE_MS),
    UMOS_PRESENCE__SWEEP_INTERVAL_MS: String(PRESENCE_SWEEP_MS),
  });
  await post("/api/v1/thing-models", {
    id: "fan",
    name: "Ceiling fan",
    definition: {
      properties: [
        { identifier: "speed", accessMode: "rw", dataType: { type: "int", specs: { min: 0, max: 5 } } },
        { identifier: "temperature", accessMode: "r", dataType: { type: "float", specs: { min: -40, max: 85 } } },
      ],
      events: [{ identifier: "jammed", type: "error", outputData: [{ identifier: "current", dataType: { type: "float" } }] }],
      services: [
        {
          identifier: "spin",
          callType: "async",
          inputData: [{ identifier: "rpm", required: true, dataType: { type: "int", specs: { min: 100, max: 1200 } } }],
          outputData: [{ identifier: "rpm", dataType: { type: "int" } }],
        },
      ],
    },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.endAsync(true).catch(() => {})));
  await stack?.dispose();
});

const post = (path: string, body: unknown, headers?: Record<string, string>) => stack.api.post(path, body, headers);
const get = (path: string) => stack.api.get(path);
const request = (method: string, path: string, body?: unknown) => stack.api.request(method, path, body);
const dashboard = (subscription: Record<string, unknown>) => stack.dashboard(subscription);

async function registerFan(id: string) {
  expect((await post("/api/v1/devices", { id, vendor: "generic", model: { id: "fan" } })).status).toBe(201);
}

/** A fan on MQTT: answers calls and property sets unless told to stay silent; announces itself online. */
async function connectFan(id: string, options: { answer?: boolean; will?: boolean } = {}) {
  const client = await mqtt.connectAsync(stack.broker.url, {
    clientId: `fan-${id}`,
    protocolVersion: 5,
    keepalive: KEEPALIVE_S,
    reconnectPeriod: 0,
    will: options.will === false ? undefined : { topic: `generic/${id}/status`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: false },
  });
  devices.push(client);
  const received: { topic: string; body: Json }[] = [];
  client.on("message", (topic, payload) => {
    const body = JSON.parse(payload.toString());
    received.push({ topic, body });
    if (options.answer === false) return;
    const output = topic.endsWith("/service/call") ? { rpm: body.params.rpm } : undefined;
    void client.publishAsync(`generic/${id}/service/reply`, JSON.stringify({ correlationId: body.correlationId, code: 0, data: output }), { qos: 1 });
  });
  await client.subscribeAsync([`generic/${id}/service/call`, `generic/${id}/property/set`], { qos: 1 });
  await client.publishAsync(`generic/${id}/status`, '{"state":"online"}', { qos: 1 });
  await eventually(async () => (await get(`/api/v1/devices/${id}`)).body.online === true, 10_000, `${id} online`);
  return { client, received };
}

async function commandReaches(id: string, status: string, timeoutMs = 10_000): Promise<Json> {
  return eventually(
    async () => {
      const { body } = await get(`/api/v1/commands/${id}`);
      return body.status === status ? body : undefined;
    },
    timeoutMs,
    `command ${id} ${status}`,
  );
}

describe("commands", () => {
  test("a command the device answers reads acked with its output; the dashboard saw sent then acked; the history has every step", async () => {
    await registerFan("fan-ack");
    await connectFan("fan-ack");
    const app = await dashboard({ devices: ["fan-ack"], kinds: ["command.status"] });
    const res = await post("/api/v1/devices/fan-ack/commands", { service: "spin", params: { rpm: 600 } });
    expect(res.status).toBe(202);
    const done = await commandReaches(res.body.id, "acked");
    expect(done.output).toEqual({ rpm: 600 });
    expect(done.history.map((h: Json) => h.status)).toEqual(["queued", "sent", "acked"]);
    await eventually(() => app.messages().length === 2, 5000, "two status events");
    expect(app.messages().map((m: Json) => m.data.status)).toEqual(["sent", "acked"]);
    app.socket.close();
  }, 30_000);

  test("a device that never answers: timeout after the command's own timeout", async () => {
    await registerFan("fan-mute");
    const fan = await connectFan("fan-mute", { answer: false });
    const started = Date.now();
    const res = await post("/api/v1/devices/fan-mute/commands", { service: "spin", params: { rpm: 300 }, timeoutMs: 700 });
    const done = await commandReaches(res.body.id, "timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(fan.received).toHaveLength(1);
    expect(done.reason).toContain("did not answer");
    expect(done.history.map((h: Json) => h.status)).toEqual(["queued", "sent", "timeout"]);
  }, 30_000);

  test("a command to an offline device is delivered when it connects; one whose TTL passed is expired and never delivered", async () => {
    await registerFan("fan-late");
    const waiting = await post("/api/v1/devices/fan-late/commands", { service: "spin", params: { rpm: 900 }, ttlMs: 60_000 });
    const doomed = await post("/api/v1/devices/fan-late/commands", { service: "spin", params: { rpm: 100 }, ttlMs: 300 });
    await commandReaches(doomed.body.id, "expired");
    expect((await get(`/api/v1/commands/${waiting.body.id}`)).body.status).toBe("queued");

    const fan = await connectFan("fan-late");
    await commandReaches(waiting.body.id, "acked");
    await Bun.sleep(300);
    expect(fan.received.map((r) => r.body.correlationId)).toEqual([waiting.body.id]);
  }, 30_000);

  test("the same Idempotency-Key twice gives one command", async () => {
    await registerFan("fan-idem");
    const first = await post("/api/v1/devices/fan-idem/commands", { service: "spin", params: { rpm: 200 } }, { "idempotency-key": "k-1" });
    const again = await post("/api/v1/devices/fan-idem/commands", { service: "spin", params: { rpm: 200 } }, { "idempotency-key": "k-1" });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const list = await get("/api/v1/devices/fan-idem/commands");
    expect(list.body.items).toHaveLength(1);
  });

  test("bad parameters are refused with 400 naming the parameter", async () => {
    await registerFan("fan-bad");
    const outOfRange = await post("/api/v1/devices/fan-bad/commands", { service: "spin", params: { rpm: 5000 } });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.body.error.code).toBe("invalid_command");
    expect(outOfRange.body.error.message).toStartWith("params.rpm:");
    const missing = await post("/api/v1/devices/fan-bad/commands", { service: "spin", params: {} });
    expect(missing.body.error.message).toStartWith("params.rpm:");
    const unknown = await post("/api/v1/devices/fan-bad/commands", { service: "explode" });
    expect(unknown.body.error.message).toStartWith("service:");
  });

  test("a queued command can be cancelled; a finished one cannot", async () => {
    await registerFan("fan-cancel");
    const res = await post("/api/v1/devices/fan-cancel/commands", { service: "spin", params: { rpm: 150 } });
    const cancelled = await request("DELETE", `/api/v1/commands/${res.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    expect((await request("DELETE", `/api/v1/commands/${res.body.id}`)).status).toBe(409);
    const listed = await get("/api/v1/devices/fan-cancel/commands?status=cancelled");
    expect(listed.body.items.map((c: Json) => c.id)).toEqual([res.body.id]);
  });
});

describe("thing models and state", () => {
  test("an out-of-range report is dead-lettered naming the property; a valid one updates the reported state", async () => {
    await registerFan("fan-report");
    const fan = await connectFan("fan-report");
    await fan.client.publishAsync("generic/fan-report/property/report", JSON.stringify({ id: "r1", data: { temperature: 120 } }), { qos: 1 });
    const dead = await eventually(async () => (await get("/api/v1/dead-letters?deviceId=fan-report")).body.items[0], 10_000, "dead letter");
    expect(dead.code).toBe("model_violation");
    expect(dead.reason).toBe("thing model fan@1: 'temperature' Expected number to be less or equal to 85 (got 120)");

    await fan.client.publishAsync("generic/fan-report/property/report", JSON.stringify({ id: "r2", data: { temperature: 24.5, speed: 2 } }), { qos: 1 });
    await eventually(async () => (await get("/api/v1/devices/fan-report")).body.state.temperature?.value === 24.5, 10_000, "state updated");
  }, 30_000);

  test("a model under validation 'flag' keeps a bad report and says what is wrong", async () => {
    await post("/api/v1/thing-models", {
      id: "lenient",
      validation: "flag",
      definition: { properties: [{ identifier: "level", accessMode: "r", dataType: { type: "int", specs: { max: 10 } } }] },
    });
    expect((await post("/api/v1/devices", { id: "meter-flag", vendor: "generic", model: { id: "lenient" } })).status).toBe(201);
    const fan = await connectFan("meter-flag");
    await fan.client.publishAsync("generic/meter-flag/property/report", JSON.stringify({ id: "f1", data: { level: 11 } }), { qos: 1 });
    const log = await eventually(
      async () => {
        const { body } = await get("/api/v1/devices/meter-flag/messages?kind=property.report");
        return body.items.length > 0 ? body.items : undefined;
      },
      10_000,
      "flagged report stored",
    );
    expect(log[0].problems).toEqual([{ path: "level", message: "Expected integer to be less or equal to 10 (got 11)" }]);
  }, 30_000);

  test("setting a writable property: validated, sent as a property set, tracked, and desired vs reported readable with the difference", async () => {
    await registerFan("fan-set");
    const fan = await connectFan("fan-set");
    const readOnly = await request("PATCH", "/api/v1/devices/fan-set/properties", { temperature: 20 });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body.error.message).toBe("temperature: is read-only (accessMode r)");

    const res = await request("PATCH", "/api/v1/devices/fan-set/properties", { speed: 4 });
    expect(res.status).toBe(202);
    await commandReaches(res.body.id, "acked");
    expect(fan.received.at(-1)).toMatchObject({ topic: "generic/fan-set/property/set", body: { correlationId: res.body.id, data: { speed: 4 } } });
    const before = (await get("/api/v1/devices/fan-set")).body;
    expect(before.desired.speed.value).toBe(4);
    expect(before.delta).toEqual({ speed: { desired: 4, reported: null } });

    await fan.client.publishAsync("generic/fan-set/property/report", JSON.stringify({ id: "s1", data: { speed: 4 } }), { qos: 1 });
    await eventually(async () => Object.keys((await get("/api/v1/devices/fan-set")).body.delta).length === 0, 10_000, "delta closed");
  }, 30_000);

  test("a change to a model is a new version; devices stay on theirs until moved", async () => {
    const current = await get("/api/v1/thing-models/fan");
    const changed = await request("PUT", "/api/v1/thing-models/fan", {
      definition: {
        ...current.body.definition,
        properties: [...current.body.definition.properties, { identifier: "light", accessMode: "rw", dataType: { type: "bool" } }],
      },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.version).toBe(2);
    expect((await get("/api/v1/devices/fan-ack")).body.model).toEqual({ id: "fan", version: 1 });
    const versions = await get("/api/v1/thing-models/fan/versions");
    expect(versions.body.map((v: Json) => v.version)).toEqual([1, 2]);
    expect(versions.body[0].devices).toBeGreaterThan(0);
    expect((await request("PATCH", "/api/v1/devices/fan-ack/properties", { light: true })).status).toBe(400);
    expect((await request("PATCH", "/api/v1/devices/fan-ack", { model: { id: "fan", version: 2 } })).body.model).toEqual({ id: "fan", version: 2 });
    expect((await request("DELETE", "/api/v1/thing-models/fan")).status).toBe(409);
  });
});

describe("presence", () => {
  test(`a device that drops off is shown offline within 1.5 x keepalive (its last will), and a silent one within silenceMs + one sweep`, async () => {
    await registerFan("fan-gone");
    const gone = await connectFan("fan-gone");
    await registerFan("fan-quiet");
    await connectFan("fan-quiet", { will: false });
    const app = await dashboard({ devices: ["fan-gone", "fan-quiet"], kinds: ["status.offline"] });

    const dropped = Date.now();
    gone.client.stream.destroy(); // no DISCONNECT: the broker sends the will after 1.5 x keepalive [MQTT-3.1.2-8]
    await eventually(async () => (await get("/api/v1/devices/fan-gone")).body.online === false, 5000, "fan-gone offline");
    expect(Date.now() - dropped).toBeLessThan(1500 * KEEPALIVE_S + 1000);

    // fan-quiet stays connected but sends nothing (keepalive pings are not traffic UMOS sees).
    await eventually(async () => (await get("/api/v1/devices/fan-quiet")).body.online === false, SILENCE_MS + PRESENCE_SWEEP_MS + 3000, "fan-quiet offline");
    await eventually(() => app.messages().length === 2, 3000, "both offline events pushed");
    expect(
      app
        .messages()
        .map((m: Json) => [m.deviceId, m.data.cause ?? "will"])
        .sort(),
    ).toEqual([
      ["fan-gone", "will"],
      ["fan-quiet", "silence"],
    ]);
  }, 30_000);
});
