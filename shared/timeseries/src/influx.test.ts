import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UnavailableError, silentLogger } from "@umos/core";
import { createInfluxDatabase, freePort, type TestInfluxDatabase } from "@umos/testkit";
import { timeSeriesContract } from "./contract";
import { createInfluxTimeSeries } from "./influx";

/**
 * The contract against InfluxDB 1.6, which answers InfluxQL on /query. 1.6 has no /api/v2/write, so
 * the store writes through 1.x's /write (influx.writeApi: v1); the v2 write path is tested against
 * VictoriaMetrics in influx-writer.test.ts.
 */
let influx: TestInfluxDatabase;

beforeAll(async () => {
  influx = await createInfluxDatabase();
}, 15_000);

afterAll(async () => {
  await influx?.dispose();
});

const target = (overrides: { url?: string; bucket?: string } = {}) => ({
  url: influx.url,
  bucket: influx.database,
  org: "umos",
  timeoutMs: 5000,
  writeApi: "v1" as const,
  ...overrides,
});

describe("InfluxDB", () => {
  timeSeriesContract(() => createInfluxTimeSeries(target(), silentLogger));

  test("the raw telemetry's retention becomes the database's default retention policy, and for ever is INF", async () => {
    const store = createInfluxTimeSeries(target(), silentLogger);
    const duration = async () => {
      const res = await fetch(`${influx.url}/query?${new URLSearchParams({ q: `SHOW RETENTION POLICIES ON "${influx.database}"` })}`);
      const body = (await res.json()) as { results: { series: { columns: string[]; values: unknown[][] }[] }[] };
      const [series] = body.results[0]!.series;
      const row = series!.values.find((v) => v[series!.columns.indexOf("default")] === true)!;
      return row[series!.columns.indexOf("duration")];
    };
    await store.applyRetention(7);
    expect(await duration()).toBe("168h0m0s");
    await store.applyRetention(null);
    expect(await duration()).toBe("0s");
  });

  test("a database that does not exist and a server that is down are both unavailable, with the reason", async () => {
    const missing = createInfluxTimeSeries(target({ bucket: "umos_no_such_db" }), silentLogger);
    const window = { deviceId: "f-1", property: "t", fromMs: 0, toMs: 60_000, everyMs: 60_000, fn: "mean" as const };
    const refused = await missing.windows(window).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as Error).message).toContain("database not found");
    const unwritable = await missing
      .write([{ series: "property", deviceId: "f-1", vendor: "generic", model: null, name: "t", ts: 0, value: 1, text: null }])
      .catch((err: unknown) => err);
    expect(unwritable).toBeInstanceOf(UnavailableError);
    expect((unwritable as Error).message).toContain("database 'umos_no_such_db' does not exist");
    const down = await createInfluxTimeSeries(target({ url: `http://127.0.0.1:${await freePort()}` }), silentLogger)
      .windows(window)
      .catch((err: unknown) => err);
    expect(down).toBeInstanceOf(UnavailableError);
  });
});
