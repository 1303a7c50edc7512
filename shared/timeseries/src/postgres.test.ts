import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { Database } from "@umos/store";
import { createMigratedDatabase, manualClock, type TestDatabase } from "@umos/testkit";
import { timeSeriesContract } from "./contract";
import { dropPartition, listPartitions } from "./partitions";
import { reportPoints } from "./points";
import { createPostgresTimeSeries } from "./postgres";
import { runRollups } from "./rollups";
import { AGGREGATES, type TimeSeries } from "./types";

let database: TestDatabase;
let db: Database;
const clock = manualClock(Date.UTC(2026, 0, 1));
let retentionDays: number | null = null;
const open = (): TimeSeries => createPostgresTimeSeries(db.sql, { clock, rawRetentionDays: async () => retentionDays });

beforeAll(async () => {
  const migrated = await createMigratedDatabase();
  database = migrated;
  db = migrated.db;
}, 20_000);

afterAll(async () => {
  await database?.dispose();
});

describe("PostgreSQL", () => {
  timeSeriesContract(open);
});

const H = 3_600_000;
const t0 = Date.UTC(2025, 5, 30, 22); // two hours before a month's end: the roll-ups cross a partition
const report = (deviceId: string, ts: number, data: Record<string, unknown>): Envelope => ({
  id: `${deviceId}-${ts}`,
  ts,
  vendor: "dji",
  deviceId,
  kind: "property.report",
  data,
});
const rollupCaches = () => ({ minutes: new Set<string>(), hours: new Set<string>() });

describe("PostgreSQL roll-ups", () => {
  test("windows of whole minutes, hours and days answer from the roll-ups exactly what the raw points alone answer", async () => {
    const store = open();
    // Four hours, a report every 37 s with a value that goes up and down, and a boolean.
    const reports = Array.from({ length: Math.floor((4 * H) / 37_000) }, (_, i) =>
      report("r-1", t0 + i * 37_000, { battery: { capacity_percent: 50 + Math.sin(i / 7) * 40 }, charging: i % 3 === 0 }),
    );
    await store.write(reports.flatMap((r) => reportPoints(r, "dock")));
    const queries = AGGREGATES.flatMap((fn) =>
      [60_000, 5 * 60_000, H, 2 * H, 24 * H].flatMap((everyMs) => [
        { deviceId: "r-1", properties: ["battery.capacity_percent", "charging"], fn, everyMs, fromMs: t0, toMs: t0 + 4 * H },
        // A range that starts and ends inside windows: whole windows from roll-ups, the edges from raw points.
        { deviceId: "r-1", properties: ["battery.capacity_percent", "charging"], fn, everyMs, fromMs: t0 + 1234, toMs: t0 + 3 * H + 61_001 },
      ]),
    );
    const raw = await Promise.all(queries.map((q) => store.series(q)));
    const run = await runRollups(db.sql, rollupCaches(), 0);
    expect(run!.minutes).toBeGreaterThan(2 * 4 * 60 - 10);
    const rolled = await Promise.all(queries.map((q) => store.series(q)));
    for (let i = 0; i < queries.length; i++) expect({ q: queries[i], series: rolled[i] }).toEqual({ q: queries[i], series: approx(raw[i]!) });

    // With the raw points gone the whole windows still answer: they were read from the roll-ups.
    for (const p of await listPartitions(db.sql, "telemetry_points"))
      if (p.fromMs >= t0 - 24 * H && p.toMs <= t0 + 48 * H) await dropPartition(db.sql, "telemetry_points", p.name);
    const [day] = await store.series({ deviceId: "r-1", properties: ["battery.capacity_percent"], fn: "count", everyMs: H, fromMs: t0, toMs: t0 + 4 * H });
    expect(day!.windows.map((w) => w.value)).toEqual([98, 97, 97, 97]);
  }, 60_000);

  test("points written after a run, late ones in old windows included, count at once and are rolled up by the next run the same", async () => {
    const store = open();
    await store.write(reportPoints(report("r-2", t0 + 10 * 60_000, { level: 1 }), null));
    await runRollups(db.sql, rollupCaches(), 0);
    const hourly = { deviceId: "r-2", property: "level", fn: "sum" as const, everyMs: H, fromMs: t0, toMs: t0 + H };
    expect(await store.windows(hourly)).toEqual([{ ts: t0, value: 1 }]);
    await store.write(reportPoints(report("r-2", t0 + 20 * 60_000, { level: 10 }), null));
    expect(await store.windows(hourly)).toEqual([{ ts: t0, value: 11 }]);
    await runRollups(db.sql, rollupCaches(), 0);
    expect(await store.windows(hourly)).toEqual([{ ts: t0, value: 11 }]);
    // A second run over nothing new changes nothing.
    await runRollups(db.sql, rollupCaches(), 0);
    expect(await store.windows(hourly)).toEqual([{ ts: t0, value: 11 }]);
  });

  test("two runs at once: one does the work, the other stands aside", async () => {
    const store = open();
    await store.write(reportPoints(report("r-3", t0, { level: 1 }), null));
    const runs = await Promise.all([runRollups(db.sql, rollupCaches(), 0), runRollups(db.sql, rollupCaches(), 0)]);
    expect(runs.filter((r) => r === null).length).toBeLessThanOrEqual(1);
  });
});

describe("PostgreSQL points", () => {
  test("points go to a partition per day of their own timestamp, made as they arrive", async () => {
    const store = open();
    const day = Date.UTC(2024, 1, 29, 12);
    await store.write(reportPoints(report("p-1", day, { a: 1 }), null));
    await store.write(reportPoints(report("p-1", day + 24 * H, { a: 2 }), null));
    const names = (await listPartitions(db.sql, "telemetry_points")).map((p) => p.name);
    expect(names).toContain("telemetry_points_d20240229");
    expect(names).toContain("telemetry_points_d20240301");
  });

  test("a point older than the raw telemetry's retention is refused with the reason, as InfluxDB refuses one outside its retention", async () => {
    const store = open();
    retentionDays = 30;
    try {
      const refused = await store.write(reportPoints(report("p-2", clock.now() - 31 * 24 * H, { a: 1 }), null)).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(InvalidInputError);
      expect((refused as Error).message).toContain("older than the raw telemetry's retention (30 days)");
      await store.write(reportPoints(report("p-2", clock.now() - 29 * 24 * H, { a: 1 }), null));
    } finally {
      retentionDays = null;
    }
  });

  test("a partition dropped under a writer is made again for the next point", async () => {
    const store = open();
    const day = Date.UTC(2023, 4, 4, 4);
    await store.write(reportPoints(report("p-3", day, { a: 1 }), null));
    await dropPartition(db.sql, "telemetry_points", "telemetry_points_d20230504");
    await store.write(reportPoints(report("p-3", day + 1000, { a: 2 }), null));
    expect(await store.windows({ deviceId: "p-3", property: "a", fn: "count", everyMs: H, fromMs: day - H, toMs: day + H })).toEqual([{ ts: day, value: 1 }]);
  });
});

/** Sums over roll-ups add in another order than over raw points: equal to the last bits of a double. */
function approx(series: { property: string; windows: { ts: number; value: number }[] }[]) {
  return series.map((s) => ({ ...s, windows: s.windows.map((w) => ({ ts: w.ts, value: expect.closeTo(w.value, 9) })) }));
}
