import type { Sql } from "./database";

/** What retention keeps for a time, each with its own period (docs/retention.md). */
export const RETENTION_KINDS = ["telemetry", "rollup1m", "rollup1h", "messageLog", "presence", "commands", "deadLetters", "alarms", "notifications"] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** The kinds kept in rows (not partitions), removed in batches by their time. */
export const EXPIRING_KINDS = ["messageLog", "presence", "commands", "deadLetters", "alarms", "notifications"] as const;
export type ExpiringKind = (typeof EXPIRING_KINDS)[number];

/** Days each kind is kept; null: for ever. */
export type RetentionPolicy = Record<RetentionKind, number | null>;

export interface RetentionSetting {
  kind: RetentionKind;
  days: number | null;
  /** config: the installation's default; api: changed at run time. */
  source: "config" | "api";
  updatedAt: Date | null;
  updatedBy: string | null;
}

export interface Removal {
  kind: RetentionKind;
  /** expired: older than its period; disk_guard: the database passed retention.maxDatabaseBytes. */
  reason: "expired" | "disk_guard";
  /** A partition's name, or the time rows were removed before. */
  removed: string;
  rows: number | null;
  bytes: number | null;
}

export interface RemovalRecord extends Removal {
  id: number;
  at: Date;
}

/** Rows one DELETE of the spine's tables removes, so a large backlog never holds long locks. */
const DELETE_BATCH = 5000;

export interface RetentionRepository {
  /** Every kind: the API's setting where one was made, else the default given. */
  settings(defaults: RetentionPolicy): Promise<RetentionSetting[]>;
  policy(defaults: RetentionPolicy): Promise<RetentionPolicy>;
  set(changes: Partial<RetentionPolicy>, by: string): Promise<void>;
  record(removal: Removal): Promise<void>;
  /** Newest first. */
  removals(limit: number): Promise<RemovalRecord[]>;
  /**
   * Removes the spine's rows older than `before`, batch by batch; returns how many. Presence
   * changes are the message log's status.* entries, kept by their own period.
   */
  expire(kind: ExpiringKind, before: Date): Promise<number>;
}

export function retentionRepository(sql: Sql): RetentionRepository {
  const settings: RetentionRepository["settings"] = async (defaults) => {
    const rows = await sql<{ kind: RetentionKind; days: number | null; updated_at: Date; updated_by: string }[]>`
      select kind, days, updated_at, updated_by from retention_settings`;
    const changed = new Map(rows.map((r) => [r.kind, r]));
    return RETENTION_KINDS.map((kind) => {
      const row = changed.get(kind);
      return row
        ? { kind, days: row.days, source: "api", updatedAt: row.updated_at, updatedBy: row.updated_by }
        : { kind, days: defaults[kind], source: "config", updatedAt: null, updatedBy: null };
    });
  };
  const batched = async (statement: () => Promise<{ count: number }>) => {
    let total = 0;
    for (;;) {
      const { count } = await statement();
      total += count;
      if (count < DELETE_BATCH) return total;
    }
  };
  return {
    settings,
    async policy(defaults) {
      return Object.fromEntries((await settings(defaults)).map((s) => [s.kind, s.days])) as RetentionPolicy;
    },
    async set(changes, by) {
      await sql.begin(async (tx) => {
        for (const [kind, days] of Object.entries(changes)) {
          await tx`
            insert into retention_settings (kind, days, updated_by) values (${kind}, ${days ?? null}, ${by})
            on conflict (kind) do update set days = excluded.days, updated_by = excluded.updated_by, updated_at = now()`;
        }
      });
    },
    async record(r) {
      await sql`insert into retention_log (kind, reason, removed, rows, bytes) values (${r.kind}, ${r.reason}, ${r.removed}, ${r.rows}, ${r.bytes})`;
    },
    async removals(limit) {
      const rows = await sql<
        { id: bigint; at: Date; kind: RetentionKind; reason: Removal["reason"]; removed: string; rows: bigint | null; bytes: bigint | null }[]
      >`
        select id, at, kind, reason, removed, rows, bytes from retention_log order by id desc limit ${limit}`;
      return rows.map((r) => ({ ...r, id: Number(r.id), rows: r.rows === null ? null : Number(r.rows), bytes: r.bytes === null ? null : Number(r.bytes) }));
    },
    async expire(kind, before) {
      switch (kind) {
        case "messageLog":
          return batched(
            () => sql`delete from message_log where id in (
              select id from message_log where received_at < ${before} and kind not like 'status.%' limit ${DELETE_BATCH})`,
          );
        case "presence":
          return batched(
            () => sql`delete from message_log where id in (
              select id from message_log where received_at < ${before} and kind like 'status.%' limit ${DELETE_BATCH})`,
          );
        case "commands":
          // Open commands stay whatever their age: they are still waiting for their device.
          return batched(
            () => sql`delete from commands where id in (
              select id from commands where updated_at < ${before} and status not in ('queued', 'sent') limit ${DELETE_BATCH})`,
          );
        case "deadLetters":
          return batched(
            () => sql`delete from dead_letters where id in (select id from dead_letters where dead_lettered_at < ${before} limit ${DELETE_BATCH})`,
          );
        case "alarms":
          // Active alarms stay whatever their age: someone still has to look at them.
          return batched(
            () => sql`delete from alarms where id in (
              select id from alarms where status = 'cleared' and ended_at < ${before} limit ${DELETE_BATCH})`,
          );
        case "notifications":
          return batched(
            () => sql`delete from notification_deliveries where (event_id, channel_id) in (
              select event_id, channel_id from notification_deliveries where at < ${before} and status <> 'sending' limit ${DELETE_BATCH})`,
          );
      }
    },
  };
}

/** The retention section of the configuration as a policy: 0 days is for ever. */
export function policyOf(config: Record<`${RetentionKind}Days`, number>): RetentionPolicy {
  return Object.fromEntries(RETENTION_KINDS.map((kind) => [kind, config[`${kind}Days`] || null])) as RetentionPolicy;
}
