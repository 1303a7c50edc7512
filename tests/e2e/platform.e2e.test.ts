import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import postgres from "postgres";
import { HEADERS } from "@umos/contracts";
import { eventually, startStack, type TestStack } from "@umos/testkit";

/**
 * Both flows of the seed through all five services as separate processes, against the real
 * RabbitMQ, Mosquitto and PostgreSQL: an MQTT client plays the device, HTTP and WebSocket clients
 * play the app.
 */
let stack: TestStack;
let sql: postgres.Sql;

beforeAll(async () => {
  stack = await startStack();
  sql = postgres(stack.database.url, { max: 1, onnotice: () => {} });
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await stack?.dispose();
});

const api = (path: string, init?: { method?: string; body?: unknown }) => stack.api.request(init?.method ?? "GET", path, init?.body);
const dashboard = (subscription: Record<string, unknown>) => stack.dashboard(subscription);

describe("device -> cloud", () => {
  test("a device's report reaches a subscribed WebSocket client as a validated envelope, and the message log holds it once", async () => {
    expect((await api("/api/v1/devices", { method: "POST", body: { id: "thermo-1", vendor: "generic" } })).status).toBe(201);
    const app = await dashboard({ devices: ["thermo-1"] });
    const device = await mqtt.connectAsync(stack.broker.url, { clientId: "thermo-1", protocolVersion: 5 });
    await device.publishAsync("generic/thermo-1/property/report", JSON.stringify({ id: "r-1", ts: 1_750_000_000_000, data: { temperature: 21.5 } }), {
      qos: 1,
    });

    const [frame] = await eventually(() => (app.messages().length > 0 ? app.messages() : undefined), 10_000, "pushed to the dashboard");
    expect(frame!.routingKey).toBe("iot.generic.event.property.report");
    expect(frame).toMatchObject({ deviceId: "thermo-1", kind: "property.report", ts: 1_750_000_000_000, data: { temperature: 21.5 } });

    const log = await (await api("/api/v1/devices/thermo-1/messages")).body;
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({ id: frame!.id, kind: "property.report", data: { temperature: 21.5 } });
    const state = await (await api("/api/v1/devices/thermo-1")).body;
    expect(state.state.temperature.value).toBe(21.5);
    expect(state.online).toBe(true);

    app.socket.close();
    await device.endAsync();
  }, 30_000);

  test("a malformed frame is dead-lettered with its reason, and the services keep serving", async () => {
    await api("/api/v1/devices", { method: "POST", body: { id: "broken-1", vendor: "generic" } });
    const app = await dashboard({ devices: ["broken-1"] });
    const device = await mqtt.connectAsync(stack.broker.url, { clientId: "broken-1", protocolVersion: 5 });
    await device.publishAsync("generic/broken-1/property/report", "temperature=21.5", { qos: 1 });

    // iot-uplink archives the dead-letter queue; iot-api lists it (docs/operations.md, Dead letters).
    const dead = await eventually(async () => (await stack.api.get("/api/v1/dead-letters?deviceId=broken-1")).body.items[0], 10_000, "dead letter");
    expect(dead.payload).toEqual({ encoding: "utf8", data: "temperature=21.5", truncated: false });
    expect(dead.code).toBe("malformed_json");
    expect(dead.reason).toContain("not valid JSON");
    expect(dead.headers[HEADERS.mqttTopic]).toBe("generic/broken-1/property/report");

    await device.publishAsync("generic/broken-1/property/report", JSON.stringify({ id: "ok-1", data: { temperature: 20 } }), { qos: 1 });
    await eventually(() => app.messages().some((f) => f.kind === "property.report"), 10_000, "a good frame still flows");
    app.socket.close();
    await device.endAsync();
  }, 30_000);
});

describe("cloud -> device", () => {
  test("a REST command reaches the device's MQTT subscription; the device's reply acks it, and the dashboard sees both", async () => {
    await api("/api/v1/devices", { method: "POST", body: { id: "valve-1", vendor: "generic" } });
    const app = await dashboard({ devices: ["valve-1"], kinds: ["command.status"] });
    const device = await mqtt.connectAsync(stack.broker.url, { clientId: "valve-1", protocolVersion: 5 });
    const calls: { correlationId: string; service: string; params: unknown; ts: number }[] = [];
    device.on("message", (topic, payload) => {
      if (topic !== "generic/valve-1/service/call") return;
      const call = JSON.parse(payload.toString());
      calls.push(call);
      void device.publishAsync("generic/valve-1/service/reply", JSON.stringify({ correlationId: call.correlationId, code: 0, data: { position: 40 } }), {
        qos: 1,
      });
    });
    await device.subscribeAsync("generic/valve-1/service/call", { qos: 1 });
    // The birth message: commands go to devices that are online.
    await device.publishAsync("generic/valve-1/status", JSON.stringify({ state: "online" }), { qos: 1 });
    await eventually(async () => (await (await api("/api/v1/devices/valve-1")).body).online, 10_000, "device online");

    const res = await api("/api/v1/devices/valve-1/commands", { method: "POST", body: { service: "open", params: { percent: 40 } } });
    expect(res.status).toBe(202);
    const { id } = res.body;

    await eventually(() => calls.length === 1, 10_000, "the device got the call");
    expect(calls[0]).toMatchObject({ correlationId: id, service: "open", params: { percent: 40 } });

    const done = await eventually(
      async () => {
        const command = await (await api(`/api/v1/commands/${id}`)).body;
        return command.status === "acked" ? command : undefined;
      },
      10_000,
      "command acked",
    );
    expect(done.output).toEqual({ position: 40 });
    await eventually(() => app.messages().length === 2, 5000, "two status events");
    expect(app.messages().map((f) => f.data.status)).toEqual(["sent", "acked"]);
    app.socket.close();
    await device.endAsync();
  }, 30_000);
});

describe("shutdown", () => {
  test("every service drains and exits cleanly on SIGTERM", async () => {
    const codes = await stack.platform.stop();
    expect(codes).toEqual({ api: 0, ws: 0, uplink: 0, downlink: 0, gateway: 0, rules: 0 });
  }, 30_000);
});
