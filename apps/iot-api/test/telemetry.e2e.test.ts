import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "@umos/runtime";
import { reportPoints, toInfluxPoint } from "@umos/timeseries";
import {
  createBusFile,
  createDatabase,
  createInfluxDatabase,
  freePort,
  jsonClient,
  manualClock,
  testConfig,
  testToken,
  type TestBusFile,
  type TestDatabase,
  type TestInfluxDatabase,
  inProcess,
} from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * GET /devices/:id/telemetry in-process, against InfluxDB 1.6 (InfluxQL on /query), and without any
 * time-series server. Each API has its own embedded bus; its clock reads an hour after t0.
 */
let database: TestDatabase;
let influx: TestInfluxDatabase;
const apps: App[] = [];
const busFiles: TestBusFile[] = [];
const t0 = Date.parse("2025-06-15T10:00:00Z");
const range = `from=${t0}&to=${t0 + 3_600_000}`;

beforeAll(async () => {
  [database, influx] = await Promise.all([createDatabase(), createInfluxDatabase()]);
}, 30_000);

afterAll(async () => {
  for (const app of apps) await app.stop();
  await Promise.all([database.dispose(), influx.dispose(), ...busFiles.map((b) => b.dispose())]);
}, 30_000);

async function startApi(env: Record<string, string>) {
  const busFile = await createBusFile();
  busFiles.push(busFile);
  const app = inProcess(createApp, testConfig({ busUrl: busFile.url, postgresUrl: database.url }, env), "iot-api", { clock: manualClock(t0 + 3_600_000) });
  apps.push(app);
  await app.start();
  const base = `http://127.0.0.1:${app.port}`;
  return { api: jsonClient(base, await testToken("viewer")), admin: jsonClient(base, await testToken("admin")) };
}

/** Reports of one device 20 minutes apart from t0, as the writer makes their points. */
async function writeReports(deviceId: string, data: Record<string, unknown>[], kind = "property.report") {
  const reports = data.map((d, i) => ({
    id: `${deviceId}-${i}`,
    ts: t0 + i * 20 * 60_000,
    vendor: "generic" as const,
    deviceId,
    kind,
    data: d,
  }));
  await influx.write(reports.flatMap((r) => reportPoints(r, null)).map((p) => toInfluxPoint(p).toLineProtocol({ convertTime: (ts) => String(ts) })!));
}

describe("telemetry endpoint", () => {
  test("without a time series it answers 501 and says what to configure", async () => {
    const { api } = await startApi({});
    const res = await api.get(`/api/v1/devices/any/telemetry?property=temperature`);
    expect(res.status).toBe(501);
    expect(res.body.error).toEqual({ code: "not_configured", message: expect.stringContaining("UMOS_TIMESERIES__KIND") });
    expect((await api.get(`/api/v1/devices/any/telemetry/series?property=temperature`)).status).toBe(501);
    expect((await api.get(`/api/v1/devices/any/telemetry/events`)).status).toBe(501);
  }, 20_000);

  test("a device's property as windows; an unknown device is 404; limits and bad parameters are 400 with the reason", async () => {
    const { api, admin } = await startApi({ UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database, UMOS_TIMESERIES__MAX_QUERY_POINTS: "100" });
    expect((await admin.post("/api/v1/devices", { id: "tele-1", vendor: "generic" })).status).toBe(201);
    await writeReports("tele-1", [{ temperature: 20 }, { temperature: 22 }, { temperature: 30 }]);

    const series = await api.get(`/api/v1/devices/tele-1/telemetry?property=temperature&${range}&every=30m&fn=max`);
    expect(series.status).toBe(200);
    expect(series.body).toEqual({
      deviceId: "tele-1",
      property: "temperature",
      fn: "max",
      every: "30m",
      from: "2025-06-15T10:00:00.000Z",
      to: "2025-06-15T11:00:00.000Z",
      points: [
        { ts: "2025-06-15T10:00:00.000Z", value: 22 },
        { ts: "2025-06-15T10:30:00.000Z", value: 30 },
      ],
    });
    // Without from and to: the hour before the API's clock.
    expect((await api.get("/api/v1/devices/tele-1/telemetry?property=temperature&every=30m&fn=max")).body).toEqual(series.body);

    expect((await api.get(`/api/v1/devices/nobody/telemetry?property=temperature`)).status).toBe(404);
    const tooMany = await api.get(`/api/v1/devices/tele-1/telemetry?property=temperature&${range}&every=1s`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe("too_many_points");
    expect((await api.get(`/api/v1/devices/tele-1/telemetry?property=temperature&every=soon`)).status).toBe(400);
    expect((await api.get(`/api/v1/devices/tele-1/telemetry?property=temperature&fn=median`)).status).toBe(400);
    expect((await api.get(`/api/v1/devices/tele-1/telemetry`)).status).toBe(400);
  }, 20_000);

  test("several properties over the same windows in one request, in the order asked; at most 10, windows times properties within the limit", async () => {
    const { api, admin } = await startApi({ UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database, UMOS_TIMESERIES__MAX_QUERY_POINTS: "100" });
    expect((await admin.post("/api/v1/devices", { id: "tele-3", vendor: "generic" })).status).toBe(201);
    await writeReports("tele-3", [{ temperature: 20, humidity: 40 }, { temperature: 22, humidity: 45 }, { temperature: 30 }]);

    const res = await api.get(`/api/v1/devices/tele-3/telemetry/series?property=humidity&property=temperature&property=pressure&${range}&every=30m&fn=spread`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      deviceId: "tele-3",
      fn: "spread",
      every: "30m",
      from: "2025-06-15T10:00:00.000Z",
      to: "2025-06-15T11:00:00.000Z",
      series: [
        { property: "humidity", points: [{ ts: "2025-06-15T10:00:00.000Z", value: 5 }] },
        {
          property: "temperature",
          points: [
            { ts: "2025-06-15T10:00:00.000Z", value: 2 },
            { ts: "2025-06-15T10:30:00.000Z", value: 0 },
          ],
        },
        { property: "pressure", points: [] },
      ],
    });
    // One property is a list of one.
    const one = await api.get(`/api/v1/devices/tele-3/telemetry/series?property=temperature&${range}&every=30m&fn=sum`);
    expect(one.body.series).toEqual([
      {
        property: "temperature",
        points: [
          { ts: "2025-06-15T10:00:00.000Z", value: 42 },
          { ts: "2025-06-15T10:30:00.000Z", value: 30 },
        ],
      },
    ]);

    const eleven = Array.from({ length: 11 }, (_, i) => `property=p${i}`).join("&");
    expect((await api.get(`/api/v1/devices/tele-3/telemetry/series?${eleven}`)).status).toBe(400);
    expect((await api.get(`/api/v1/devices/tele-3/telemetry/series?${range}`)).status).toBe(400);
    // 61 one-minute windows fit the limit of 100 for one property, not for two.
    expect((await api.get(`/api/v1/devices/tele-3/telemetry/series?property=temperature&${range}&every=1m`)).status).toBe(200);
    const two = await api.get(`/api/v1/devices/tele-3/telemetry/series?property=temperature&property=humidity&${range}&every=1m`);
    expect(two.status).toBe(400);
    expect(two.body.error.code).toBe("too_many_points");
    expect((await api.get(`/api/v1/devices/nobody/telemetry/series?property=temperature`)).status).toBe(404);
  }, 20_000);

  test("events counted per window and name: every name or the names asked; at most 10 names", async () => {
    const { api, admin } = await startApi({ UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database, UMOS_TIMESERIES__MAX_QUERY_POINTS: "100" });
    expect((await admin.post("/api/v1/devices", { id: "tele-4", vendor: "generic" })).status).toBe(201);
    await writeReports(
      "tele-4",
      ["door", "door", "alarm"].map((event) => ({ event, data: {} })),
      "event.report",
    );

    const all = await api.get(`/api/v1/devices/tele-4/telemetry/events?${range}&every=1h`);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      deviceId: "tele-4",
      every: "1h",
      from: "2025-06-15T10:00:00.000Z",
      to: "2025-06-15T11:00:00.000Z",
      series: [
        { event: "alarm", points: [{ ts: "2025-06-15T10:00:00.000Z", count: 1 }] },
        { event: "door", points: [{ ts: "2025-06-15T10:00:00.000Z", count: 2 }] },
      ],
      more: false,
    });
    // door at 10:00 and 10:20, alarm at 10:40
    const named = await api.get(`/api/v1/devices/tele-4/telemetry/events?event=door&event=smoke&${range}&every=15m`);
    expect(named.body.series).toEqual([
      {
        event: "door",
        points: [
          { ts: "2025-06-15T10:00:00.000Z", count: 1 },
          { ts: "2025-06-15T10:15:00.000Z", count: 1 },
        ],
      },
      { event: "smoke", points: [] },
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => `event=e${i}`).join("&");
    expect((await api.get(`/api/v1/devices/tele-4/telemetry/events?${eleven}`)).status).toBe(400);
    // Without names, the answer may hold 20 of them: 61 windows do not fit a limit of 100.
    expect((await api.get(`/api/v1/devices/tele-4/telemetry/events?${range}&every=1m`)).body.error.code).toBe("too_many_points");
    expect((await api.get(`/api/v1/devices/tele-4/telemetry/events?event=door&${range}&every=1m`)).status).toBe(200);
  }, 20_000);

  test("a time-series server that does not answer is 503, naming it", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const { api, admin } = await startApi({ UMOS_INFLUX__URL: down });
    await admin.post("/api/v1/devices", { id: "tele-2", vendor: "generic" });
    const res = await api.get(`/api/v1/devices/tele-2/telemetry?property=temperature`);
    expect(res.status).toBe(503);
    expect(res.body.error.message).toContain(down);
  }, 20_000);
});
