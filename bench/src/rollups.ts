/**
 * `bun run bench:rollups`: a year of one device's property at one report a second (31.5 million
 * points) in a PostgreSQL database of its own, rolled up once, then the same year-long queries
 * answered from raw points and from the roll-ups, in turns, side by side. Also the bytes a device's
 * property costs per day, raw and rolled up. Results: bench/results/rollups.json.
 */
import { resolve } from "node:path";
import { silentLogger } from "@umos/core";
import { openMigratedDatabase } from "@umos/store";
import { createDatabase, manualClock } from "@umos/testkit";
import { createPostgresTimeSeries, ensurePartitions, listPartitions, markWritten, runRollups, ROLLUPS, type Aggregate } from "@umos/timeseries";

const DAY = 86_400_000;
const DAYS = Number(process.env.BENCH_ROLLUP_DAYS ?? 365);
const ROUNDS = 5;
const start = Date.UTC(2025, 0, 1);
const end = start + DAYS * DAY;

const database = await createDatabase();
const db = await openMigratedDatabase({ url: database.url, maxConnections: 2 }, silentLogger);
try {
  const sql = db.sql;
  const t = performance.now();
  await ensurePartitions(
    sql,
    "telemetry_points",
    "day",
    Array.from({ length: DAYS }, (_, d) => start + d * DAY),
    new Set(),
  );
  for (let d = 0; d < DAYS; d++) {
    const from = new Date(start + d * DAY);
    const to = new Date(start + (d + 1) * DAY - 1000);
    // What the writer stores for a report of { temperature } a second: one row each.
    await sql`
      insert into telemetry_points (device_id, series, name, ts, value, vendor, model)
      select 'bench-1', 'p', 'temperature', ts, 20 + 5 * sin(extract(epoch from ts) / 3600), 'generic', 'thermostat'
      from generate_series(${from}::timestamptz, ${to}::timestamptz, interval '1 second') as ts`;
  }
  await markWritten(
    sql,
    Array.from({ length: DAYS }, (_, d) => start + d * DAY),
  );
  await sql`vacuum analyze telemetry_points`;
  const generatedS = (performance.now() - t) / 1000;
  console.error(`bench: ${DAYS} days generated in ${generatedS.toFixed(0)} s; rolling up ...`);

  const r = performance.now();
  const run = await runRollups(sql, { minutes: new Set(), hours: new Set() }, 0);
  const rollupS = (performance.now() - r) / 1000;
  await sql`vacuum analyze telemetry_rollup_1m`;
  await sql`vacuum analyze telemetry_rollup_1h`;

  const clock = manualClock(end);
  const raw = createPostgresTimeSeries(sql, { clock, rawRetentionDays: async () => null, useRollups: false });
  const rolled = createPostgresTimeSeries(sql, { clock, rawRetentionDays: async () => null });
  const queries: { name: string; everyMs: number; fn: Aggregate }[] = [
    { name: `${DAYS} days, every=1d, mean`, everyMs: DAY, fn: "mean" },
    { name: `${DAYS} days, every=1d, max`, everyMs: DAY, fn: "max" },
    { name: `${DAYS} days, every=1h, last`, everyMs: 3_600_000, fn: "last" },
  ];
  const results = [];
  for (const q of queries) {
    const ask = (store: typeof raw) => store.windows({ deviceId: "bench-1", property: "temperature", fromMs: start, toMs: end, everyMs: q.everyMs, fn: q.fn });
    const same =
      JSON.stringify((await ask(raw)).map((w) => [w.ts, w.value.toFixed(6)])) === JSON.stringify((await ask(rolled)).map((w) => [w.ts, w.value.toFixed(6)]));
    const rawMs: number[] = [];
    const rollupMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const [store, out] of [
        [raw, rawMs],
        [rolled, rollupMs],
      ] as const) {
        const s = performance.now();
        await ask(store);
        out.push(performance.now() - s);
      }
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    results.push({ query: q.name, sameAnswer: same, rawMs: median(rawMs), rollupMs: median(rollupMs), speedup: median(rawMs) / median(rollupMs) });
    console.error(`bench: ${q.name}: raw ${median(rawMs).toFixed(0)} ms, roll-ups ${median(rollupMs).toFixed(1)} ms`);
  }
  const bytes = async (table: string) => (await listPartitions(sql, table)).reduce((sum, p) => sum + p.bytes, 0);
  const sizes = { raw: await bytes("telemetry_points"), minute: await bytes(ROLLUPS[1].table), hour: await bytes(ROLLUPS[0].table) };
  const result = {
    at: new Date().toISOString(),
    postgres: (await sql<{ v: string }[]>`select current_setting('server_version') as v`)[0]!.v,
    days: DAYS,
    points: DAYS * 86_400,
    generatedS,
    rollup: { seconds: rollupS, minutes: run?.minutes, hours: run?.hours },
    queries: results,
    bytesPerDeviceDay: {
      rawOneReportPerSecond: Math.round(sizes.raw / DAYS),
      minuteRollup: Math.round(sizes.minute / DAYS),
      hourRollup: Math.round(sizes.hour / DAYS),
    },
  };
  console.log(JSON.stringify(result, null, 2));
  await Bun.write(resolve(import.meta.dir, "../results/rollups.json"), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await db.close();
  await database.dispose();
}
