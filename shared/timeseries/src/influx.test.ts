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

  test("the documented continuous queries are accepted, and their SELECT ... INTO rolls points up per minute and per hour", async () => {
    const file = await Bun.file(new URL("../../../deployments/influxdb/rollups-1x.influxql", import.meta.url)).text();
    const statements = file
      .split("\n")
      .filter((line) => line.startsWith("CREATE CONTINUOUS QUERY"))
      .map((line) => line.replaceAll('ON "umos"', `ON "${influx.database}"`));
    expect(statements).toHaveLength(2);
    const store = createInfluxTimeSeries(target(), silentLogger);
    const run = async (q: string) => {
      const res = await fetch(`${influx.url}/query?${new URLSearchParams({ db: influx.database, q })}`, { method: "POST" });
      const body = (await res.json()) as { results: { error?: string; series?: { columns: string[]; values: unknown[][] }[] }[] };
      expect(body.results[0]!.error).toBeUndefined();
      return body.results[0]!.series ?? [];
    };
    for (const statement of statements) await run(statement);
    const t = 1_750_000_000_000 - (1_750_000_000_000 % 3_600_000);
    await store.write(
      [1, 5, 3].map((value, i) => ({
        series: "property" as const,
        deviceId: "cq-1",
        vendor: "generic",
        model: null,
        name: "level",
        ts: t + i * 70_000,
        value,
        text: null,
      })),
    );
    // What each query does every interval, here over the whole range at once.
    for (const statement of statements) {
      const select = /BEGIN (SELECT .*) GROUP BY (time\(\w+\)), \* END$/.exec(statement)!;
      await run(`${select[1]} WHERE time >= ${t}ms AND time < ${t + 3_600_000}ms GROUP BY ${select[2]}, *`);
    }
    const [hour] = await run(`SELECT "count", "min", "max", "sum", "first", "last" FROM "device_property_1h" WHERE "device" = 'cq-1'`);
    expect(hour!.values).toEqual([[new Date(t).toISOString().replace(".000Z", "Z"), 3, 1, 5, 9, 1, 3]]);
    const [minutes] = await run(`SELECT "count" FROM "device_property_1m" WHERE "device" = 'cq-1' AND "property" = 'level'`);
    expect(minutes!.values.map((v) => v[1])).toEqual([1, 1, 1]);
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
