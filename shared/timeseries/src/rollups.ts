import type { Sql } from "@umos/store";
import { ensurePartitions } from "./partitions";
import { dayRanges } from "./postgres";

/**
 * A write committed after the job read the points but stamped before its horizon would be missed:
 * the horizon stays this far behind the database's clock, longer than any telemetry write lasts.
 */
const SETTLE_MS = 30_000;

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
    const [span] = await tx<{ first: Date | null; last: Date | null; minutes: bigint }[]>`
      select min(bucket) as first, max(bucket) as last, count(*) as minutes from rollup_dirty`;
    let hours = 0;
    if (span!.first && span!.last) {
      const months = monthsBetween(span!.first.getTime(), span!.last.getTime());
      await ensurePartitions(tx, "telemetry_rollup_1m", "month", months, known.minutes);
      await ensurePartitions(tx, "telemetry_rollup_1h", "month", months, known.hours);
      // Each window is read through a lateral subquery: one primary-key range scan per dirty window.
      // A join leaves the plan to estimates, and for one device's backlog the planner merges on the
      // device and filters the time: every window against every point (a year: hours, not minutes).
      await tx`
        insert into telemetry_rollup_1m
        select d.device_id, d.series, d.name, d.bucket, a.count, a.min, a.max, a.sum, a.first, a.first_ts, a.last, a.last_ts
        from rollup_dirty d cross join lateral (
          select count(*) as count, min(p.value) as min, max(p.value) as max, sum(p.value) as sum,
                 (array_agg(p.value order by p.ts))[1] as first, min(p.ts) as first_ts,
                 (array_agg(p.value order by p.ts desc))[1] as last, max(p.ts) as last_ts
          from telemetry_points p
          where p.device_id = d.device_id and p.series = d.series and p.name = d.name
            and p.ts >= d.bucket and p.ts < d.bucket + interval '1 minute' and p.value is not null
        ) a
        where a.count > 0
        on conflict (device_id, series, name, bucket) do update set
          count = excluded.count, min = excluded.min, max = excluded.max, sum = excluded.sum,
          first = excluded.first, first_ts = excluded.first_ts, last = excluded.last, last_ts = excluded.last_ts`;
      const upserted = await tx`
        insert into telemetry_rollup_1h
        select h.device_id, h.series, h.name, h.hour, a.count, a.min, a.max, a.sum, a.first, a.first_ts, a.last, a.last_ts
        from (select distinct device_id, series, name, date_bin(interval '1 hour', bucket, timestamptz 'epoch') as hour from rollup_dirty) h
        cross join lateral (
          select sum(m.count) as count, min(m.min) as min, max(m.max) as max, sum(m.sum) as sum,
                 (array_agg(m.first order by m.first_ts))[1] as first, min(m.first_ts) as first_ts,
                 (array_agg(m.last order by m.last_ts desc))[1] as last, max(m.last_ts) as last_ts
          from telemetry_rollup_1m m
          where m.device_id = h.device_id and m.series = h.series and m.name = h.name
            and m.bucket >= h.hour and m.bucket < h.hour + interval '1 hour'
        ) a
        where a.count > 0
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

/**
 * The roll-up job as the service runs it: runs that remember the partitions they made, and forget
 * them after a failure, since one dropped by retention meanwhile is then made again on the next run.
 */
export function rollupJob(sql: Sql): () => Promise<RollupRun | null> {
  const known = { minutes: new Set<string>(), hours: new Set<string>() };
  return async () => {
    try {
      return await runRollups(sql, known);
    } catch (err) {
      known.minutes.clear();
      known.hours.clear();
      throw err;
    }
  };
}
