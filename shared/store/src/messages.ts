import type { Envelope } from "@umos/contracts";
import { json, type Sql } from "./database";

/** A decoded message ready for the log. */
export interface LogEntry {
  envelope: Envelope;
  dedupeKey: string;
  receivedAt: number;
  /** What the thing model found wrong, for a message accepted under validation "flag". */
  problems?: unknown[];
}

export interface BatchResult {
  /** Ids of the entries that were new, not duplicates. */
  fresh: Set<string>;
  /** Devices that were offline and are online again because they sent something other than a status frame. */
  cameOnline: { id: string; vendor: string }[];
}

export interface StoredMessage {
  id: string;
  deviceId: string;
  vendor: string;
  kind: string;
  ts: Date;
  receivedAt: Date;
  data: unknown;
  correlationId: string | null;
  problems: { path: string; message: string }[] | null;
}

export interface MessagePage {
  items: StoredMessage[];
  nextCursor: string | null;
}

/**
 * Writes one batch in one transaction: the log (a duplicate is skipped), the latest state per
 * property (never moved backwards in time), and each device's last-seen and online flag.
 * Returns the ids of the entries that were new.
 */
export async function writeBatch(sql: Sql, entries: LogEntry[]): Promise<BatchResult> {
  if (entries.length === 0) return { fresh: new Set(), cameOnline: [] };
  // Each table's rows go as one jsonb parameter, unpacked by jsonb_to_recordset: one JSON.stringify
  // per batch instead of postgres.js escaping every element of ten text arrays (8% of the uplink's
  // CPU in the bench's profile). Times go as epoch ms.
  const log = entries.map((e) => ({
    id: e.envelope.id,
    device_id: e.envelope.deviceId,
    dedupe_key: e.dedupeKey,
    vendor: e.envelope.vendor,
    kind: e.envelope.kind,
    ts: e.envelope.ts,
    received_at: e.receivedAt,
    data: e.envelope.data ?? null,
    correlation_id: e.envelope.correlationId ?? null,
    problems: e.problems && e.problems.length > 0 ? e.problems : null,
  }));
  const state = latestState(entries);
  const seen = lastSeen(entries);

  return sql.begin(async (tx) => {
    // The statements depend on no result of one another, so they go out together, in the order they
    // are started here: one round trip for the four (postgres.js pipelines a turn's queries).
    // Concurrent batches touching the same devices deadlocked under load; taking the devices' row
    // locks first, in id order, makes them queue instead. NO KEY UPDATE is the lock the update below
    // takes anyway; FOR UPDATE would also hold up every insert that references the device (a
    // command created for it, say) until this batch commits.
    const locked = tx`select 1 from devices where id = any(${seen.map((d) => d.id)}::text[]) order by id for no key update`.execute();
    const inserted = tx<{ id: string }[]>`
      insert into message_log (id, device_id, dedupe_key, vendor, kind, ts, received_at, data, correlation_id, problems)
      select id, device_id, dedupe_key, vendor, kind, to_timestamp(ts / 1000), to_timestamp(received_at / 1000),
        coalesce(data, 'null'::jsonb), correlation_id, problems
      from jsonb_to_recordset(${json(sql, log)}::jsonb)
        as v(id uuid, device_id text, dedupe_key text, vendor text, kind text, ts double precision, received_at double precision,
          data jsonb, correlation_id text, problems jsonb)
      on conflict do nothing
      returning id`.execute();
    const stateWritten =
      state.length === 0
        ? null
        : tx`
      insert into device_state (device_id, property, value, reported_at)
      select device_id, property, coalesce(value, 'null'::jsonb), to_timestamp(reported_at / 1000)
      from jsonb_to_recordset(${json(sql, state)}::jsonb) as v(device_id text, property text, value jsonb, reported_at double precision)
      on conflict (device_id, property) do update set value = excluded.value, reported_at = excluded.reported_at
      where device_state.reported_at <= excluded.reported_at`.execute();
    // Every sub-statement sees the table as it was, so `prev` holds the state before this update.
    const cameOnline = tx<{ id: string; vendor: string }[]>`
      with v as (
        select id, to_timestamp(seen / 1000) as seen, online
        from jsonb_to_recordset(${json(sql, seen)}::jsonb) as v(id text, seen double precision, online boolean)
      ), prev as (
        select d.id, d.online as was from devices d join v on v.id = d.id
      ), moved as (
        update devices d set last_seen_at = greatest(d.last_seen_at, v.seen), online = coalesce(v.online, true)
        from v where d.id = v.id
        returning d.id, d.vendor, d.online
      )
      select moved.id, moved.vendor from moved join prev using (id) join v using (id)
      where moved.online and not prev.was and v.online is null`.execute();
    const [, fresh, , online] = await Promise.all([locked, inserted, stateWritten, cameOnline]);
    return { fresh: new Set(fresh.map((r) => r.id)), cameOnline: online };
  });
}

export async function pageMessages(sql: Sql, deviceId: string, options: { limit: number; before?: string; kind?: string }): Promise<MessagePage> {
  const rows = await sql<StoredMessage[]>`
    select id, device_id as "deviceId", vendor, kind, ts, received_at as "receivedAt", data, correlation_id as "correlationId", problems
    from message_log
    where device_id = ${deviceId}
      ${options.before ? sql`and id < ${options.before}` : sql``}
      ${options.kind ? sql`and kind = ${options.kind}` : sql``}
    order by id desc limit ${options.limit + 1}`;
  const items = rows.slice(0, options.limit);
  return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
}

/** One row per (device, property), the newest report in the batch winning: Postgres refuses two updates of one row in one statement. */
function latestState(entries: LogEntry[]) {
  const latest = new Map<string, { device_id: string; property: string; value: unknown; reported_at: number }>();
  for (const { envelope } of entries) {
    if (envelope.kind !== "property.report" || typeof envelope.data !== "object" || envelope.data === null) continue;
    for (const [property, value] of Object.entries(envelope.data)) {
      const key = `${envelope.deviceId}\u0000${property}`;
      const current = latest.get(key);
      if (current && current.reported_at > envelope.ts) continue;
      latest.set(key, { device_id: envelope.deviceId, property, value: value ?? null, reported_at: envelope.ts });
    }
  }
  // Sorted, so that rows are written in one order by every batch.
  return [...latest.values()].sort((a, b) => (a.device_id === b.device_id ? cmp(a.property, b.property) : cmp(a.device_id, b.device_id)));
}

/** Per device, sorted by id: when it was last heard from, and the presence a status frame set (null: none). */
function lastSeen(entries: LogEntry[]) {
  const byDevice = new Map<string, { id: string; seen: number; online: boolean | null }>();
  for (const { envelope, receivedAt } of entries) {
    let current = byDevice.get(envelope.deviceId);
    if (!current) {
      current = { id: envelope.deviceId, seen: 0, online: null };
      byDevice.set(envelope.deviceId, current);
    }
    current.seen = Math.max(current.seen, receivedAt);
    if (envelope.kind === "status.online") current.online = true;
    if (envelope.kind === "status.offline") current.online = false;
  }
  return [...byDevice.values()].sort((a, b) => cmp(a.id, b.id));
}

/** A device's request (kind `request`) by the transaction id it carried, for answering it. */
export async function findRequest(sql: Sql, deviceId: string, tid: string): Promise<{ method: string; bid: string | null } | undefined> {
  const [row] = await sql<{ method: string; bid: string | null }[]>`
    select data ->> 'method' as method, data ->> 'bid' as bid from message_log
    where device_id = ${deviceId} and kind = 'request' and data ->> 'tid' = ${tid}
    order by id desc limit 1`;
  return row;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
