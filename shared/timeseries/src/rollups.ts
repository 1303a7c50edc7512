import type { Sql } from "@umos/store";
import { ensurePartitions, partitionOf } from "./partitions";
import { dayRanges } from "./postgres";

/**
 * A write committed after the job read the points but stamped before its horizon would be missed:
 * the horizon stays this far behind the database's clock, longer than any telemetry write lasts.
 */
const SETTLE_MS = 30_000;
/**
 * A run that rewrote this many minutes (a backlog, a spool replayed, the first run over old data)
 * analyses the minute partitions it wrote before reading them back for the hours: the planner would
 * otherwise take them for the few rows they held before, and scan each once per hour.
 */
const ANALYSE_AFTER_MINUTES = 10_000;

export interface RollupRun {
  /** Minutes and hours recomputed. */
  minutes: number;
  hours: number;
  doneUntil: Date;
}

/**
 * One run of the roll-up job: every minute and hour with a point written since the last run is
 * computed again from the raw points (minutes) and the minute roll-ups (hours) and upserted, in one
 * transaction with the new watermark, so a run that fails changes nothing and a second run over the
 * same points writes the same rows. Late points (a spool replayed, a backlog) land in old windows
 * and are rolled up the same way. Null when another replica's run holds the lock.
 */
export async function runRollups(sql: Sql, known: { minutes: Set<string>; hours: Set<string> }, settleMs = SETTLE_MS): Promise<RollupRun | null> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(hashtext('telemetry_rollups')) as ok`;
    if (!lock!.ok) return null;
    const [state] = await tx<{ since: Date; until: Date }[]>`
      select done_until as since, greatest(done_until, clock_timestamp() - ${settleMs} * interval '1 millisecond') as until
      from telemetry_rollup_progress for update`;
    const { since, until } = state!;
    // Only the days written since the last run can hold what it has not seen.
    const days = await tx<{ day: Date }[]>`select day::timestamptz as day from telemetry_days where written_at >= ${since}`;
    const inDays = dayRanges(days.map((d) => d.day)).reduce((more, r) => tx`${more} or (ts >= ${r.from} and ts < ${r.to})`, tx``);
    await tx`
      create temporary table rollup_dirty on commit drop as
      select distinct device_id, series, name, date_bin(interval '1 minute', ts, timestamptz 'epoch') as bucket
      from telemetry_points where (false ${inDays}) and stored_at >= ${since} and stored_at < ${until} and value is not null`;
    // Without statistics the planner takes the new table for a few rows of unknown shape and scans
    // every partition for each; with them, one index range scan per dirty minute.
    await tx`analyze rollup_dirty`;
    const [span] = await tx<{ first: Date | null; last: Date | null; minutes: bigint }[]>`
      select min(bucket) as first, max(bucket) as last, count(*) as minutes from rollup_dirty`;
    let hours = 0;
    if (span!.first && span!.last) {
      const months = monthsBetween(span!.first.getTime(), span!.last.getTime());
      await ensurePartitions(tx, "telemetry_rollup_1m", "month", months, known.minutes);
      await ensurePartitions(tx, "telemetry_rollup_1h", "month", months, known.hours);
      await tx`
        insert into telemetry_rollup_1m
        select p.device_id, p.series, p.name, d.bucket, count(*), min(p.value), max(p.value), sum(p.value),
               (array_agg(p.value order by p.ts))[1], min(p.ts), (array_agg(p.value order by p.ts desc))[1], max(p.ts)
        from rollup_dirty d join telemetry_points p
          on p.device_id = d.device_id and p.series = d.series and p.name = d.name
         and p.ts >= d.bucket and p.ts < d.bucket + interval '1 minute' and p.value is not null
        group by p.device_id, p.series, p.name, d.bucket
        on conflict (device_id, series, name, bucket) do update set
          count = excluded.count, min = excluded.min, max = excluded.max, sum = excluded.sum,
          first = excluded.first, first_ts = excluded.first_ts, last = excluded.last, last_ts = excluded.last_ts`;
      if (Number(span!.minutes) >= ANALYSE_AFTER_MINUTES) {
        for (const month of months) await tx.unsafe(`analyze "${partitionOf("telemetry_rollup_1m", "month", month).name}"`);
      }
      await tx`
        create temporary table rollup_dirty_hours on commit drop as
        select distinct device_id, series, name, date_bin(interval '1 hour', bucket, timestamptz 'epoch') as hour from rollup_dirty`;
      await tx`analyze rollup_dirty_hours`;
      const upserted = await tx`
        insert into telemetry_rollup_1h
        select m.device_id, m.series, m.name, h.hour, sum(m.count), min(m.min), max(m.max), sum(m.sum),
               (array_agg(m.first order by m.first_ts))[1], min(m.first_ts), (array_agg(m.last order by m.last_ts desc))[1], max(m.last_ts)
        from rollup_dirty_hours h
        join telemetry_rollup_1m m
          on m.device_id = h.device_id and m.series = h.series and m.name = h.name
         and m.bucket >= h.hour and m.bucket < h.hour + interval '1 hour'
        group by m.device_id, m.series, m.name, h.hour
        on conflict (device_id, series, name, bucket) do update set
          count = excluded.count, min = excluded.min, max = excluded.max, sum = excluded.sum,
          first = excluded.first, first_ts = excluded.first_ts, last = excluded.last, last_ts = excluded.last_ts`;
      hours = upserted.count;
    }
    await tx`update telemetry_rollup_progress set done_until = ${until}`;
    return { minutes: Number(span!.minutes), hours, doneUntil: until };
  });
}

/** One instant in each month from first to last. */
function monthsBetween(firstMs: number, lastMs: number): number[] {
  const months: number[] = [];
  const d = new Date(firstMs);
  for (let m = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1); m <= lastMs; m = Date.UTC(new Date(m).getUTCFullYear(), new Date(m).getUTCMonth() + 1, 1))
    months.push(m);
  return months;
}
