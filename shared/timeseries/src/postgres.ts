import type { PendingQuery, Row, TransactionSql } from "postgres";
import { InvalidInputError, type Clock } from "@umos/core";
import { asUnavailable, withOutagesAsUnavailable, type Sql } from "@umos/store";
import { dropPartition, ensurePartitions, isMissingPartition, partitionOf, type Partition } from "./partitions";
import type { Aggregate, Range, TelemetryPoint, TimeSeries, Window } from "./types";

export const POINTS_TABLE = "telemetry_points";
export const ROLLUPS = [
  { table: "telemetry_rollup_1h", ms: 3_600_000 },
  { table: "telemetry_rollup_1m", ms: 60_000 },
] as const;

type Fragment = PendingQuery<Row[]>;

const DAY_MS = 86_400_000;

/** Rows per batch an export reads through its cursor. */
const EXPORT_BATCH = 5000;
const SERIES_CODE = { property: "p", event: "e" } as const;

export interface PostgresTimeSeriesOptions {
  clock: Clock;
  /** Points older than this many days are refused, as InfluxDB refuses points outside its retention; null: none are. */
  rawRetentionDays(): Promise<number | null>;
  /** false: every query reads raw points only (the bench's reference for the roll-ups' speed-up). Default true. */
  useRollups?: boolean;
}

/**
 * PostgreSQL as the time series (docs/telemetry.md): one table of points partitioned by day, roll-ups
 * per minute and per hour kept by the roll-up job (rollups.ts), windows by `date_bin`. A query whose
 * `every` is a whole number of hours (or minutes) reads the roll-ups for the whole windows inside its
 * range and raw points only at its edges and for points written since the job's last run, so it
 * answers exactly what the raw points alone would, a year at every=1d from 8,760 hourly rows.
 */
export function createPostgresTimeSeries(sql: Sql, options: PostgresTimeSeriesOptions): TimeSeries {
  const known = new Set<string>();

  async function insert(rows: TelemetryPoint[]): Promise<void> {
    const days = [...new Set(rows.map((p) => partitionOf(POINTS_TABLE, "day", p.ts).fromMs))];
    await ensurePartitions(sql, POINTS_TABLE, "day", days, known);
    // One transaction: the day's mark is never behind its points (rollups.ts reads it to find them).
    await sql.begin(async (tx) => {
      await tx`
      insert into telemetry_points (device_id, series, name, ts, value, text, vendor, model)
      select * from unnest(
        ${rows.map((p) => p.deviceId)}::text[], ${rows.map((p) => SERIES_CODE[p.series])}::"char"[], ${rows.map((p) => p.name)}::text[],
        ${rows.map((p) => new Date(p.ts).toISOString())}::timestamptz[], ${rows.map((p) => p.value)}::float8[], ${rows.map((p) => p.text)}::text[],
        ${rows.map((p) => p.vendor)}::text[], ${rows.map((p) => p.model)}::text[])
      on conflict (device_id, series, name, ts) do update
        set value = excluded.value, text = excluded.text, vendor = excluded.vendor, model = excluded.model, stored_at = clock_timestamp()
        where (telemetry_points.value, telemetry_points.text) is distinct from (excluded.value, excluded.text)`;
      await markWritten(tx, days);
    });
  }

  /** Partial aggregates (count, min, max, sum, first, last) per name and window, from roll-ups where they answer exactly. */
  async function aggregate(q: Range & { series: "p" | "e"; names: string[]; everyMs: number; fn: Aggregate }): Promise<Map<string, Window[]>> {
    const every = sql`(${q.everyMs} * interval '1 millisecond')`;
    const names = q.names.length > 0 ? sql`and name = any(${q.names}::text[])` : sql``;
    const of = sql`device_id = ${q.deviceId} and series = ${q.series} ${names}`;
    const from = new Date(q.fromMs);
    const to = new Date(q.toMs);
    const raw = (extra: Fragment) => sql`
      select name, date_bin(${every}, ts, timestamptz 'epoch') as w, 1::float8 as c, value as mn, value as mx, value as s, value as f, ts as fts, value as l, ts as lts
      from telemetry_points where ${of} and value is not null ${extra}`;
    const rollup = options.useRollups === false ? undefined : ROLLUPS.find((r) => q.everyMs % r.ms === 0);
    const coveredFrom = rollup && Math.ceil(q.fromMs / rollup.ms) * rollup.ms;
    const coveredTo = rollup && Math.floor(q.toMs / rollup.ms) * rollup.ms;
    let parts: Fragment;
    if (!rollup || coveredFrom! >= coveredTo!) parts = raw(sql`and ts >= ${from} and ts < ${to}`);
    else {
      const cFrom = new Date(coveredFrom!);
      const cTo = new Date(coveredTo!);
      // Points written since the roll-ups' last run, looked for only in the days written since then.
      const late = await sql<{ day: Date; done: Date }[]>`
        select d.day::timestamptz as day, p.done_until as done from telemetry_days d, telemetry_rollup_progress p
        where d.written_at >= p.done_until and d.day >= ${cFrom}::date and d.day::timestamptz < ${cTo}`;
      const since = dayRanges(late.map((l) => l.day)).reduce(
        (more, r) => sql`${more} or (ts >= ${r.from} and ts < ${r.to} and ts >= ${cFrom} and ts < ${cTo} and stored_at >= ${late[0]!.done})`,
        sql``,
      );
      parts = sql`
        ${raw(sql`and ((ts >= ${from} and ts < ${cFrom}) or (ts >= ${cTo} and ts < ${to}) ${since})`)}
        union all
        select name, date_bin(${every}, bucket, timestamptz 'epoch'), count::float8, min, max, sum, first, first_ts, last, last_ts
        from ${sql(rollup.table)} where ${of} and bucket >= ${cFrom} and bucket < ${cTo}`;
    }
    const rows = await sql<{ name: string; w: Date; v: number }[]>`
      select name, w, ${combine(sql, q.fn)} as v from (${parts}) parts group by name, w order by name, w`;
    const byName = new Map<string, Window[]>();
    for (const row of rows) {
      const windows = byName.get(row.name) ?? [];
      windows.push({ ts: row.w.getTime(), value: row.v });
      byName.set(row.name, windows);
    }
    return byName;
  }

  const series = withOutagesAsUnavailable(async (q: Parameters<TimeSeries["series"]>[0]) => {
    const byName = await aggregate({ ...q, series: "p", names: q.properties });
    return q.properties.map((property) => ({ property, windows: byName.get(property) ?? [] }));
  });

  return {
    kind: "postgres",
    write: withOutagesAsUnavailable(async (points) => {
      if (points.length === 0) return;
      const days = await options.rawRetentionDays();
      if (days !== null) {
        const oldest = options.clock.now() - days * 86_400_000;
        const stale = points.find((p) => p.ts < oldest);
        if (stale) {
          throw new InvalidInputError(
            "points_refused",
            `a point of ${stale.deviceId} at ${new Date(stale.ts).toISOString()} is older than the raw telemetry's retention (${days} days)`,
          );
        }
      }
      // The same point twice in one statement would stop the upsert: the later report wins, as in InfluxDB.
      const rows = [...new Map(points.map((p) => [`${p.deviceId}\u0000${p.series}\u0000${p.name}\u0000${p.ts}`, p])).values()];
      try {
        await insert(rows);
      } catch (err) {
        if (!isMissingPartition(err)) throw err;
        known.clear();
        await insert(rows);
      }
    }),
    series,
    windows: async ({ property, ...rest }) => (await series({ ...rest, properties: [property] }))[0]!.windows,
    eventCounts: withOutagesAsUnavailable(async (q) => {
      const byName = await aggregate({ ...q, series: "e", names: q.events, fn: "count" });
      if (q.events.length > 0) return { series: q.events.map((event) => ({ event, windows: byName.get(event) ?? [] })), more: false };
      const names = [...byName.keys()].sort();
      return { series: names.slice(0, q.maxEvents).map((event) => ({ event, windows: byName.get(event)! })), more: names.length > q.maxEvents };
    }),
    points: withOutagesAsUnavailable(async (q) => {
      const names = q.names.length > 0 ? sql`and name = any(${q.names}::text[])` : sql``;
      const rows = await sql<{ ts: Date; name: string; value: number | null; text: string | null }[]>`
        select ts, name, case when series = 'e' then null else value end as value, text from telemetry_points
        where device_id = ${q.deviceId} and series = ${SERIES_CODE[q.series]} ${names} and ts >= ${new Date(q.fromMs)} and ts < ${new Date(q.toMs)}
        order by ts desc, name limit ${q.limit}`;
      return rows.map((r) => ({ ts: r.ts.getTime(), name: r.name, value: r.value, text: r.text }));
    }),
    async *export(q) {
      const names = q.names.length > 0 ? sql`and name = any(${q.names}::text[])` : sql``;
      const cursor = sql<{ ts: Date; name: string; value: number | null; text: string | null }[]>`
        select ts, name, case when series = 'e' then null else value end as value, text from telemetry_points
        where device_id = ${q.deviceId} and series = ${SERIES_CODE[q.series]} ${names} and ts >= ${new Date(q.fromMs)} and ts < ${new Date(q.toMs)}
        order by ts, name`.cursor(EXPORT_BATCH);
      try {
        for await (const rows of cursor) yield rows.map((r) => ({ ts: r.ts.getTime(), name: r.name, value: r.value, text: r.text }));
      } catch (err) {
        throw asUnavailable(err);
      }
    },
    applyRetention: async () => {},
    deleteDevice: withOutagesAsUnavailable(async (deviceId) => {
      await sql.begin(async (tx) => {
        await tx`delete from telemetry_points where device_id = ${deviceId}`;
        for (const { table } of ROLLUPS) await tx`delete from ${tx(table)} where device_id = ${deviceId}`;
      });
    }),
  };
}

/** Drops a day of points (retention, the disk guard), and its mark in telemetry_days with it. */
export async function dropPointsDay(sql: Sql, partition: Partition): Promise<void> {
  await dropPartition(sql, POINTS_TABLE, partition.name);
  await sql`delete from telemetry_days where day = ${new Date(partition.fromMs)}::date`;
}

/** Days (their starts) as the fewest ranges of consecutive days: a condition per range, not per day. */
export function dayRanges(days: Date[]): { from: Date; to: Date }[] {
  const ranges: { from: Date; to: Date }[] = [];
  for (const day of [...days].sort((a, b) => a.getTime() - b.getTime())) {
    const last = ranges[ranges.length - 1];
    if (last && last.to.getTime() === day.getTime()) last.to = new Date(day.getTime() + DAY_MS);
    else ranges.push({ from: day, to: new Date(day.getTime() + DAY_MS) });
  }
  return ranges;
}

/** The days just written to (UTC, as ms of their start), marked with the time of the write. */
export async function markWritten(tx: Sql | TransactionSql, days: number[]): Promise<void> {
  await tx`
    insert into telemetry_days (day, written_at)
    select d::date, clock_timestamp() from unnest(${days.map((d) => new Date(d).toISOString())}::timestamptz[]) as d
    on conflict (day) do update set written_at = excluded.written_at`;
}

/** A window's aggregate from partial aggregates (c, mn, mx, s, f at fts, l at lts) of raw points and roll-ups alike. */
function combine(sql: Sql, fn: Aggregate) {
  switch (fn) {
    case "mean":
      return sql`sum(s) / sum(c)`;
    case "min":
      return sql`min(mn)`;
    case "max":
      return sql`max(mx)`;
    case "sum":
      return sql`sum(s)`;
    case "count":
      return sql`sum(c)`;
    case "spread":
      return sql`max(mx) - min(mn)`;
    case "first":
      return sql`(array_agg(f order by fts))[1]`;
    case "last":
      return sql`(array_agg(l order by lts desc))[1]`;
  }
}
