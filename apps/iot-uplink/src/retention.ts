import type { Clock, Logger } from "@umos/core";
import { EXPIRING_KINDS, type RetentionKind, type RetentionPolicy, type RetentionRepository, type Sql } from "@umos/store";
import { dropPartition, dropPointsDay, listPartitions, partitionOf, POINTS_TABLE, ROLLUPS } from "@umos/timeseries";

const DAY_MS = 86_400_000;

/** The tables retention drops partitions of, with the kind whose period they keep. */
const PARTITIONED: readonly { table: string; kind: RetentionKind }[] = [
  { table: POINTS_TABLE, kind: "telemetry" },
  { table: ROLLUPS[1].table, kind: "rollup1m" },
  { table: ROLLUPS[0].table, kind: "rollup1h" },
];

export interface RetentionParts {
  sql: Sql;
  repo: RetentionRepository;
  clock: Clock;
  log: Logger;
  /** The configuration's periods; the API's changes, in the database, win. */
  defaults: RetentionPolicy;
  /** Telemetry is in PostgreSQL, so its partitions are this job's to drop. */
  postgresTelemetry: boolean;
  /** The disk guard's limit on the database's size; 0: off. */
  maxDatabaseBytes: number;
  removed(kind: RetentionKind, reason: "expired" | "disk_guard", count: number): void;
}

/**
 * One pass of retention: telemetry partitions wholly older than their period are dropped (a partition
 * still holding one instant inside the period stays), the spine's old rows deleted in batches, and
 * past retention.maxDatabaseBytes the oldest raw telemetry days go first, never today's. Every
 * removal is recorded with its reason for GET /api/v1/retention. Replicas take turns on a lock.
 */
export async function runRetention(parts: RetentionParts): Promise<boolean> {
  const { sql, repo, clock, log } = parts;
  const lock = await sql.reserve();
  try {
    const [held] = await lock<{ ok: boolean }[]>`select pg_try_advisory_lock(hashtext('umos_retention')) as ok`;
    if (!held!.ok) return false;
    try {
      const policy = await repo.policy(parts.defaults);
      const now = clock.now();
      const cutoff = (kind: RetentionKind) => (policy[kind] === null ? null : now - policy[kind]! * DAY_MS);
      if (parts.postgresTelemetry) {
        for (const { table, kind } of PARTITIONED) {
          const before = cutoff(kind);
          if (before === null) continue;
          for (const partition of await listPartitions(sql, table)) {
            if (partition.toMs > before) continue;
            if (table === POINTS_TABLE) await dropPointsDay(sql, partition);
            else await dropPartition(sql, table, partition.name);
            await repo.record({ kind, reason: "expired", removed: partition.name, rows: null, bytes: partition.bytes });
            parts.removed(kind, "expired", 1);
            log.info("retention dropped a partition", { kind, partition: partition.name, bytes: partition.bytes });
          }
        }
      }
      for (const kind of EXPIRING_KINDS) {
        const before = cutoff(kind);
        if (before === null) continue;
        const rows = await repo.expire(kind, new Date(before));
        if (rows === 0) continue;
        await repo.record({ kind, reason: "expired", removed: `before ${new Date(before).toISOString()}`, rows, bytes: null });
        parts.removed(kind, "expired", rows);
        log.info("retention removed old rows", { kind, rows });
      }
      if (parts.maxDatabaseBytes > 0) await guardDisk(parts, now);
      return true;
    } finally {
      await lock`select pg_advisory_unlock(hashtext('umos_retention'))`;
    }
  } finally {
    lock.release();
  }
}

/** Drops the oldest raw telemetry days while the database is larger than allowed. */
async function guardDisk(parts: RetentionParts, now: number): Promise<void> {
  const { sql, repo, log } = parts;
  const size = async () => Number((await sql<{ bytes: bigint }[]>`select pg_database_size(current_database()) as bytes`)[0]!.bytes);
  let bytes = await size();
  if (bytes <= parts.maxDatabaseBytes) return;
  const today = partitionOf(POINTS_TABLE, "day", now).name;
  const candidates = parts.postgresTelemetry ? (await listPartitions(sql, POINTS_TABLE)).filter((p) => p.name !== today && p.fromMs < now) : [];
  for (const partition of candidates) {
    await dropPointsDay(sql, partition);
    await repo.record({ kind: "telemetry", reason: "disk_guard", removed: partition.name, rows: null, bytes: partition.bytes });
    parts.removed("telemetry", "disk_guard", 1);
    log.warn("disk guard dropped raw telemetry", { partition: partition.name, bytes: partition.bytes, databaseBytes: bytes, limit: parts.maxDatabaseBytes });
    bytes = await size();
    if (bytes <= parts.maxDatabaseBytes) return;
  }
  log.error("the database is larger than retention.maxDatabaseBytes and no raw telemetry is left to drop: shorten the retention periods or allow more", {
    databaseBytes: bytes,
    limit: parts.maxDatabaseBytes,
  });
}
