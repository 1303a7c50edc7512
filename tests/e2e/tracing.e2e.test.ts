import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import mqtt from "mqtt";
import type { App } from "@umos/runtime";
import {
  createDatabase,
  createVhost,
  eventually,
  jsonClient,
  startMosquitto,
  testConfig,
  testToken,
  wsDashboard,
  type Json,
  type TestDatabase,
  type TestMosquitto,
  type TestVhost,
  inProcess,
} from "@umos/testkit";
import { createApp as createApi } from "../../apps/iot-api/src/app";
import { createApp as createDownlink } from "../../apps/iot-downlink/src/app";
import { createApp as createGateway } from "../../apps/iot-gateway/src/app";
import { createApp as createUplink } from "../../apps/iot-uplink/src/app";
import { createApp as createWs } from "../../apps/iot-ws/src/app";

/**
 * One command's trace through all five services (docs/operations.md): the five run in this
 * process, each with its own tracer provider, all exporting into one in-memory exporter, so the
 * spans can be checked parent by parent. The device is a real MQTT 5 client that echoes the trace
 * context it receives, as the generic protocol asks.
 */
const exporter = new InMemorySpanExporter();
let vhost: TestVhost;
let database: TestDatabase;
let broker: TestMosquitto;
const apps: Record<string, App> = {};
const devices: mqtt.MqttClient[] = [];
let token: string;
let api: ReturnType<typeof jsonClient>;

beforeAll(async () => {
  [vhost, database, broker] = await Promise.all([createVhost(), createDatabase(), startMosquitto()]);
  const config = testConfig({ busUrl: vhost.url, postgresUrl: database.url, mqttUrl: broker.url }, { UMOS_DOWNLINK__SWEEP_INTERVAL_MS: "100" });
  apps["iot-api"] = inProcess(createApi, config, "iot-api", { exporter });
  apps["iot-uplink"] = inProcess(createUplink, config, "iot-uplink", { exporter });
  apps["iot-downlink"] = inProcess(createDownlink, config, "iot-downlink", { exporter });
  apps["iot-ws"] = inProcess(createWs, config, "iot-ws", { exporter, db: false });
  apps["iot-gateway"] = inProcess(createGateway, config, "iot-gateway", { exporter, db: false });
  // The API migrates the database first; the others find it ready.
  await apps["iot-api"]!.start();
  await Promise.all(
    Object.entries(apps)
      .filter(([n]) => n !== "iot-api")
      .map(([, a]) => a.start()),
  );
  token = await testToken("admin");
  api = jsonClient(`http://127.0.0.1:${apps["iot-api"]!.port}`, token);
}, 60_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.endAsync(true).catch(() => {})));
  for (const app of Object.values(apps).reverse()) await app.stop().catch(() => {});
  await Promise.all([vhost?.dispose(), database?.dispose(), broker?.stop()]);
});

const serviceOf = (span: ReadableSpan) => String(span.resource.attributes["service.name"]);

/** A generic device that answers every call; an MQTT 5 device that echoes the trace context, or an MQTT 3.1.1 one that cannot. */
async function connectDevice(id: string, { echo }: { echo: boolean }) {
  expect((await api.post("/api/v1/devices", { id, vendor: "generic" })).status).toBe(201);
  const device = await mqtt.connectAsync(broker.url, { protocolVersion: echo ? 5 : 4, clientId: id });
  devices.push(device);
  device.on("message", (_topic, payload, packet) => {
    const call = JSON.parse(payload.toString()) as { correlationId: string };
    const userProperties = echo ? packet.properties?.userProperties : undefined;
    void device.publishAsync(`generic/${id}/service/reply`, JSON.stringify({ correlationId: call.correlationId, code: 0, data: { ok: true } }), {
      qos: 1,
      properties: userProperties ? { userProperties } : {},
    });
  });
  await device.subscribeAsync(`generic/${id}/service/call`, { qos: 1 });
  await device.publishAsync(`generic/${id}/status`, JSON.stringify({ state: "online" }), { qos: 1 });
  await eventually(async () => (await api.get(`/api/v1/devices/${id}`)).body.online === true, 10_000, `${id} online`);
}

/** Sends a command and waits for `acked` on a WebSocket; returns the command's trace id. */
async function commandUntilAcked(deviceId: string): Promise<string> {
  const dashboard = await wsDashboard(`ws://127.0.0.1:${apps["iot-ws"]!.port}/ws`, { devices: [deviceId] }, token);
  const accepted = await api.post(`/api/v1/devices/${deviceId}/commands`, { service: "reboot", params: {} });
  expect(accepted.status).toBe(202);
  const commandId = accepted.body.id as string;
  const acked = (m: Json) => m.kind === "command.status" && m.data.commandId === commandId && m.data.status === "acked";
  await eventually(() => dashboard.messages().some(acked), 10_000, "acked on the WebSocket");
  dashboard.socket.close();
  const traceId = String((await api.get(`/api/v1/commands/${commandId}`)).body.traceparent).split("-")[1]!;
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  return traceId;
}

/** The finished spans of a trace, once `ready` holds for them, with a way to walk up to the root. */
async function spansOf(traceId: string, ready: (spans: ReadableSpan[]) => boolean) {
  let spans: ReadableSpan[] = [];
  await eventually(
    () => {
      spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      return ready(spans);
    },
    5000,
    "the trace's spans",
  );
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? "");
  return {
    spans,
    roots: spans.filter((s) => !parentOf(s)),
    /** The hops (service, kind, name) from the trace's root down to `span`. */
    chain(span: ReadableSpan): string[] {
      const hops: string[] = [];
      for (let s: ReadableSpan | undefined = span; s; s = parentOf(s)) hops.unshift(`${serviceOf(s)} ${SpanKind[s.kind]} ${s.name}`);
      return hops;
    },
  };
}

const wsPushes = (spans: ReadableSpan[]) => spans.filter((s) => serviceOf(s) === "iot-ws" && s.kind === SpanKind.CONSUMER);

describe("one trace per command", () => {
  test("REST call -> downlink -> gateway -> device reply -> uplink -> downlink (acked) -> WebSocket push, parent by parent", async () => {
    await connectDevice("traced-1", { echo: true });
    const traceId = await commandUntilAcked("traced-1");
    // The pushes of `sent` and `acked` are the last hops; wait until their spans have ended too.
    const trace = await spansOf(traceId, (spans) => wsPushes(spans).length >= 2);
    expect(trace.roots.map((s) => `${serviceOf(s)} ${s.name}`)).toEqual(["iot-api POST /api/v1/devices/:id/commands"]);
    // The acked push: the WebSocket span whose chain passes through the device's reply.
    const ackedChain = wsPushes(trace.spans)
      .map(trace.chain)
      .find((c) => c.some((hop) => hop.startsWith("iot-uplink CONSUMER")));
    expect(ackedChain).toEqual([
      "iot-api SERVER POST /api/v1/devices/:id/commands",
      "iot-api PRODUCER publish iot",
      "iot-downlink CONSUMER process iot-downlink-queue",
      "iot-downlink PRODUCER publish iot",
      "iot-gateway CONSUMER process iot-gateway-queue",
      "iot-gateway PRODUCER publish mqtt",
      "iot-gateway CONSUMER receive mqtt",
      "iot-gateway PRODUCER publish iot",
      "iot-uplink CONSUMER process iot-uplink-queue",
      "iot-uplink PRODUCER publish iot",
      "iot-downlink CONSUMER process iot-downlink-queue",
      "iot-downlink PRODUCER publish iot",
      expect.stringMatching(/^iot-ws CONSUMER process ws:/),
    ]);
  }, 60_000);

  test("a device that does not echo trace context: its answer's trace is linked, and `acked` joins the command's trace by its id", async () => {
    await connectDevice("untraced-1", { echo: false });
    const traceId = await commandUntilAcked("untraced-1");
    const trace = await spansOf(traceId, (spans) => spans.some((s) => s.name === "command status"));
    expect(trace.roots.map((s) => `${serviceOf(s)} ${s.name}`)).toEqual(["iot-api POST /api/v1/devices/:id/commands"]);
    const joined = trace.spans.find((s) => s.name === "command status")!;
    expect(trace.chain(joined)).toEqual(["iot-api SERVER POST /api/v1/devices/:id/commands", "iot-downlink INTERNAL command status"]);
    // The link leads to the answer's own trace, which starts where the answer entered UMOS.
    const [link] = joined.links;
    expect(link?.context.traceId).not.toBe(traceId);
    const answer = await spansOf(link!.context.traceId, (spans) => spans.some((s) => serviceOf(s) === "iot-downlink"));
    expect(answer.roots.map((s) => `${serviceOf(s)} ${SpanKind[s.kind]} ${s.name}`)).toEqual(["iot-gateway CONSUMER receive mqtt"]);
    // The push of `acked` hangs under the joined span, in the command's trace.
    const pushed = await spansOf(traceId, (spans) => wsPushes(spans).length >= 2);
    expect(wsPushes(pushed.spans).map(pushed.chain)).toContainEqual([
      "iot-api SERVER POST /api/v1/devices/:id/commands",
      "iot-downlink INTERNAL command status",
      "iot-downlink PRODUCER publish iot",
      expect.stringMatching(/^iot-ws CONSUMER process ws:/),
    ]);
  }, 60_000);
});
