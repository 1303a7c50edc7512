import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { reportPoints, toInfluxPoint } from "@umos/timeseries";
import {
  createInfluxDatabase,
  eventually,
  jsonClient,
  rabbitmqctl,
  startPlatform,
  startStack,
  startVictoriaMetrics,
  type Json,
  type RunningPlatform,
  type TestInfluxDatabase,
  type TestStack,
  type TestVictoriaMetrics,
} from "@umos/testkit";

/**
 * Telemetry through all five services as processes. The write path goes to a VictoriaMetrics of this
 * test's own (it speaks the /api/v2/write the official client uses; this test stops it mid-stream);
 * VictoriaMetrics answers no InfluxQL, so the query path is a second iot-api reading InfluxDB 1.6.
 */
let vm: TestVictoriaMetrics;
let influx: TestInfluxDatabase;
let stack: TestStack;
let reader: RunningPlatform;

beforeAll(async () => {
  [vm, influx] = await Promise.all([startVictoriaMetrics(), createInfluxDatabase()]);
  stack = await startStack({
    UMOS_INFLUX__URL: vm.url,
    UMOS_TIMESERIES__FLUSH_INTERVAL_MS: "50",
    UMOS_TIMESERIES__RETRY_INITIAL_MS: "50",
    UMOS_TIMESERIES__RETRY_MAX_MS: "500",
  });
  const endpoints = { busUrl: stack.vhost.url, postgresUrl: stack.database.url };
  reader = await startPlatform(endpoints, { UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database }, ["api"]);
  await stack.api.post("/api/v1/thing-models", {
    id: "thermostat",
    definition: {
      properties: [
        { identifier: "temperature", accessMode: "r", dataType: { type: "float", specs: { min: -40, max: 85 } } },
        { identifier: "heating", accessMode: "r", dataType: { type: "bool" } },
        { identifier: "mode", accessMode: "r", dataType: { type: "text", specs: { size: 16 } } },
      ],
      events: [{ identifier: "window_open", type: "info", outputData: [{ identifier: "room", dataType: { type: "text" } }] }],
    },
  });
}, 60_000);

afterAll(async () => {
  await reader?.stop();
  await stack?.dispose();
  await Promise.all([vm?.dispose(), influx?.dispose()]);
});

const base = 1_750_000_020_000; // a multiple of 10 s and of a minute: InfluxQL windows start there
const report = (i: number) => ({ id: `r-${i}`, ts: base + i * 1000, data: { temperature: 20 + i / 10, heating: i % 2 === 0, mode: "eco" } });

async function thermostat(id: string) {
  expect((await stack.api.post("/api/v1/devices", { id, vendor: "generic", model: { id: "thermostat" } })).status).toBe(201);
  const client = await mqtt.connectAsync(stack.broker.url, { clientId: id, protocolVersion: 5 });
  const publish = (action: string, body: unknown) => client.publishAsync(`generic/${id}/${action}`, JSON.stringify(body), { qos: 1 });
  return { client, publish };
}

/** One series' samples as VictoriaMetrics stored them, every one (it keeps duplicates with the same timestamp). */
async function samples(device: string, property: string): Promise<{ timestamps: number[]; values: number[] }> {
  const [series] = await vm.samples(`{__name__="device_property_value",device="${device}",property="${property}"}`);
  return series ?? { timestamps: [], values: [] };
}

/** What RabbitMQ holds in the telemetry queue, ready and unacked. */
async function telemetryBacklog(): Promise<number> {
  const rows = JSON.parse(await rabbitmqctl("list_queues", "-p", stack.vhost.name, "name", "messages", "--formatter", "json")) as {
    name: string;
    messages: number;
  }[];
  return rows.find((r) => r.name === "iot-telemetry-queue")?.messages ?? 0;
}

describe("device -> time series", () => {
  let pushed: Json[] = [];

  test("reports of a generic device become points with its tags and values, exactly once per message, resent frames included", async () => {
    const app = await stack.dashboard({ devices: ["tm-1"] });
    const device = await thermostat("tm-1");
    for (let i = 0; i < 20; i++) await device.publish("property/report", report(i));
    // The device resends five frames it got no PUBACK for: the same ids, so the same messages.
    for (let i = 0; i < 5; i++) await device.publish("property/report", report(i));
    await device.publish("event/report", { id: "e-1", ts: base + 500, event: "window_open", data: { room: "kitchen" } });

    const temperature = await eventually(
      async () => {
        const s = await samples("tm-1", "temperature");
        return s.timestamps.length >= 20 ? s : undefined;
      },
      15_000,
      "20 temperature points",
    );
    await eventually(async () => (await telemetryBacklog()) === 0, 10_000, "every report acked");
    // Read again after the acks: a late duplicate would show as a second sample at the same timestamp.
    const again = await samples("tm-1", "temperature");
    expect(again.timestamps).toEqual(temperature.timestamps);
    expect(again.timestamps).toEqual(Array.from({ length: 20 }, (_, i) => base + i * 1000));
    expect(again.values).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i / 10));
    expect((await samples("tm-1", "heating")).values).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 1 : 0)));

    const [series] = await vm.samples('{__name__="device_property_value",device="tm-1",property="temperature"}');
    expect(series!.metric).toEqual({ __name__: "device_property_value", device: "tm-1", vendor: "generic", model: "thermostat", property: "temperature" });
    // Strings are the text field; VictoriaMetrics keeps only numbers and stores them as 0, so only their count is checked here.
    const [mode] = await vm.samples('{__name__="device_property_text",device="tm-1",property="mode"}');
    expect(mode!.timestamps).toHaveLength(20);
    const [event] = await vm.samples('{__name__="device_event_value",device="tm-1"}');
    expect(event).toMatchObject({ metric: { event: "window_open", model: "thermostat", vendor: "generic" }, values: [1], timestamps: [base + 500] });

    pushed = app.messages().filter((m) => m.kind === "property.report");
    expect(pushed).toHaveLength(20);
    app.socket.close();
    await device.client.endAsync();
  }, 60_000);

  test("the telemetry endpoint aggregates those reports in windows, read through InfluxQL from InfluxDB 1.6", async () => {
    // The envelopes the uplink published, as the dashboard got them, written as the telemetry writer writes them.
    const points = pushed.flatMap(({ routingKey: _, ...envelope }) => reportPoints(envelope, "thermostat"));
    await influx.write(points.map((p) => toInfluxPoint(p).toLineProtocol({ convertTime: (ts) => String(ts) })!));
    const api = jsonClient(reader.apiUrl, stack.token);
    const query = (property: string, fn: string) =>
      api.get(`/api/v1/devices/tm-1/telemetry?property=${property}&from=${base}&to=${base + 20_000}&every=10s&fn=${fn}`);

    const mean = await query("temperature", "mean");
    expect(mean.status).toBe(200);
    expect(mean.body.points.map((p: Json) => p.ts)).toEqual([new Date(base).toISOString(), new Date(base + 10_000).toISOString()]);
    expect(mean.body.points[0].value).toBeCloseTo(20.45, 9);
    expect(mean.body.points[1].value).toBeCloseTo(21.45, 9);
    expect((await query("temperature", "min")).body.points.map((p: Json) => p.value)).toEqual([20, 21]);
    expect((await query("temperature", "max")).body.points.map((p: Json) => p.value)).toEqual([20.9, 21.9]);
    expect((await query("temperature", "last")).body.points.map((p: Json) => p.value)).toEqual([20.9, 21.9]);
    expect((await query("temperature", "count")).body.points.map((p: Json) => p.value)).toEqual([10, 10]);
    expect((await query("heating", "mean")).body.points.map((p: Json) => p.value)).toEqual([0.5, 0.5]);
  }, 30_000);

  test("with the time-series server stopped mid-stream, WebSocket push goes on; once it is back every point arrives, none twice", async () => {
    const app = await stack.dashboard({ devices: ["tm-2"] });
    const device = await thermostat("tm-2");
    for (let i = 0; i < 10; i++) await device.publish("property/report", report(i));
    await eventually(async () => (await samples("tm-2", "temperature")).timestamps.length === 10, 15_000, "the first 10 points");

    await vm.stop();
    for (let i = 10; i < 30; i++) await device.publish("property/report", report(i));
    await eventually(() => app.messages().filter((m) => m.kind === "property.report").length === 30, 15_000, "all 30 reports pushed while the server is down");
    // Only the telemetry queue holds them meanwhile, unacked.
    await eventually(async () => (await telemetryBacklog()) === 20, 10_000, "20 reports held in iot-telemetry-queue");

    await vm.start();
    await eventually(async () => (await samples("tm-2", "temperature")).timestamps.length >= 30, 30_000, "all 30 points after the restart");
    await eventually(async () => (await telemetryBacklog()) === 0, 10_000, "every report acked");
    const written = await samples("tm-2", "temperature");
    expect(written.timestamps).toEqual(Array.from({ length: 30 }, (_, i) => base + i * 1000));
    expect(written.values).toEqual(Array.from({ length: 30 }, (_, i) => 20 + i / 10));
    app.socket.close();
    await device.client.endAsync();
  }, 90_000);
});
