import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import {
  createDatabase,
  createVhost,
  eventually,
  jsonClient,
  startMosquitto,
  startPlatform,
  startTcpProxy,
  testToken,
  type Json,
  type RunningPlatform,
  type TcpProxy,
  type TestDatabase,
  type TestMosquitto,
  type TestVhost,
} from "@umos/testkit";

/**
 * Telemetry kept in PostgreSQL (timeseries.kind: postgres) through all five services as processes,
 * an MQTT client as the device. The services reach PostgreSQL through a proxy this test cuts: the
 * same outage test as the InfluxDB writer's (telemetry.e2e.test.ts), on the other store.
 */
let vhost: TestVhost;
let database: TestDatabase;
let broker: TestMosquitto;
let proxy: TcpProxy;
let platform: RunningPlatform;
let api: ReturnType<typeof jsonClient>;

beforeAll(async () => {
  [vhost, database, broker] = await Promise.all([createVhost(), createDatabase(), startMosquitto()]);
  const target = new URL(database.url);
  proxy = await startTcpProxy(Number(target.port || 5432));
  target.port = String(proxy.port);
  platform = await startPlatform(
    { busUrl: vhost.url, mqttUrl: broker.url, postgresUrl: target.toString() },
    {
      UMOS_TIMESERIES__KIND: "postgres",
      UMOS_TIMESERIES__FLUSH_INTERVAL_MS: "50",
      UMOS_TIMESERIES__RETRY_INITIAL_MS: "50",
      UMOS_TIMESERIES__RETRY_MAX_MS: "500",
      UMOS_TIMESERIES__ROLLUP_INTERVAL_MS: "1000",
    },
  );
  api = jsonClient(platform.apiUrl, await testToken("admin"));
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  await proxy?.stop();
  await Promise.all([vhost?.dispose(), database?.dispose(), broker?.stop()]);
}, 30_000);

const base = Date.now() - (Date.now() % 60_000) - 10 * 60_000; // ten minutes ago, on a minute
const report = (i: number) => ({ id: `r-${i}`, ts: base + i * 1000, data: { temperature: 20 + i / 10, mode: i % 2 === 0 ? "eco" : "boost" } });

async function device(id: string) {
  expect((await api.post("/api/v1/devices", { id, vendor: "generic" })).status).toBe(201);
  const client = await mqtt.connectAsync(broker.url, { clientId: id, protocolVersion: 5 });
  return { client, publish: (i: number) => client.publishAsync(`generic/${id}/property/report`, JSON.stringify(report(i)), { qos: 1 }) };
}

/** The device's temperature values, oldest first, as the value list gives them. */
async function temperatures(id: string): Promise<Json[]> {
  const res = await api.get(`/api/v1/devices/${id}/telemetry/values?property=temperature&from=${base}&to=${base + 120_000}&limit=1000`);
  return res.status === 200 ? [...res.body.values].reverse() : [];
}

describe("device -> PostgreSQL time series", () => {
  test("reports become points exactly once, resent frames included, and the roll-ups answer the same as the raw points", async () => {
    const thermo = await device("ph-1");
    for (let i = 0; i < 20; i++) await thermo.publish(i);
    for (let i = 0; i < 5; i++) await thermo.publish(i);
    const values = await eventually(async () => ((await temperatures("ph-1")).length >= 20 ? temperatures("ph-1") : undefined), 15_000, "20 points");
    expect(values.map((v) => v.value)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i / 10));
    expect((await api.get(`/api/v1/devices/ph-1/telemetry/values?property=mode&from=${base}&to=${base + 1000}`)).body.values).toEqual([
      { ts: new Date(base).toISOString(), property: "mode", value: null, text: "eco" },
    ]);
    // Whole minutes are read from the roll-ups once the job has run; until then from the raw points: the same answer either way.
    const minute = async () =>
      (await api.get(`/api/v1/devices/ph-1/telemetry?property=temperature&from=${base}&to=${base + 60_000}&every=1m&fn=count`)).body.points;
    expect(await minute()).toEqual([{ ts: new Date(base).toISOString(), value: 20 }]);
    await Bun.sleep(2500);
    expect(await minute()).toEqual([{ ts: new Date(base).toISOString(), value: 20 }]);
    await thermo.client.endAsync();
  }, 60_000);

  test("with PostgreSQL cut mid-stream, once it is back every point arrives, none twice", async () => {
    const thermo = await device("ph-2");
    for (let i = 0; i < 10; i++) await thermo.publish(i);
    await eventually(async () => (await temperatures("ph-2")).length === 10, 15_000, "the first 10 points");

    proxy.cut();
    for (let i = 10; i < 30; i++) await thermo.publish(i);
    await Bun.sleep(2000);
    proxy.restore();

    const values = await eventually(async () => ((await temperatures("ph-2")).length >= 30 ? temperatures("ph-2") : undefined), 45_000, "all 30 points");
    expect(values.map((v) => v.ts)).toEqual(Array.from({ length: 30 }, (_, i) => new Date(base + i * 1000).toISOString()));
    expect(values.map((v) => v.value)).toEqual(Array.from({ length: 30 }, (_, i) => 20 + i / 10));
    await thermo.client.endAsync();
  }, 90_000);
});
