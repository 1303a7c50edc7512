import type { Envelope } from "@umos/contracts";
import type { Sql } from "./database";

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
  // Column arrays through unnest(): one statement with a fixed parameter count whatever the batch size.
  // JSON goes as text[] and is cast per row: as jsonb[] postgres.js would encode each element twice.
  const log = {
    id: entries.map((e) => e.envelope.id),
    deviceId: entries.map((e) => e.envelope.deviceId),
    dedupeKey: entries.map((e) => e.dedupeKey),
    vendor: entries.map((e) => e.envelope.vendor),
    kind: entries.map((e) => e.envelope.kind),
    ts: entries.map((e) => new Date(e.envelope.ts).toISOString()),
    receivedAt: entries.map((e) => new Date(e.receivedAt).toISOString()),
    data: entries.map((e) => JSON.stringify(e.envelope.data ?? null)),
    correlationId: entries.map((e) => e.envelope.correlationId ?? null),
    problems: entries.map((e) => (e.problems && e.problems.length > 0 ? JSON.stringify(e.problems) : null)),
  };
  const state = latestState(entries);
  const seen = lastSeen(entries);

  return sql.begin(async (tx) => {
    // Concurrent batches touching the same devices deadlocked under load; taking the devices' row
    // locks first, in id order, makes them queue instead.
    await tx`select 1 from devices where id = any(${seen.ids}::text[]) order by id for update`;
    const inserted = await tx<{ id: string }[]>`
      insert into message_log (id, device_id, dedupe_key, vendor, kind, ts, received_at, data, correlation_id, problems)
      select id, device_id, dedupe_key, vendor, kind, ts, received_at, data::jsonb, correlation_id, problems::jsonb
      from unnest(${log.id}::uuid[], ${log.deviceId}::text[], ${log.dedupeKey}::text[], ${log.vendor}::text[],
        ${log.kind}::text[], ${log.ts}::timestamptz[], ${log.receivedAt}::timestamptz[], ${log.data}::text[], ${log.correlationId}::text[],
        ${log.problems}::text[])
        as v(id, device_id, dedupe_key, vendor, kind, ts, received_at, data, correlation_id, problems)
      on conflict do nothing
      returning id`;
    if (state.deviceId.length > 0) {
      await tx`
        insert into device_state (device_id, property, value, reported_at)
        select device_id, property, value::jsonb, reported_at
        from unnest(${state.deviceId}::text[], ${state.property}::text[], ${state.value}::text[], ${state.reportedAt}::timestamptz[])
          as v(device_id, property, value, reported_at)
        on conflict (device_id, property) do update set value = excluded.value, reported_at = excluded.reported_at
        where device_state.reported_at <= excluded.reported_at`;
    }
    // Every sub-statement sees the table as it was, so `prev` holds the state before this update.
    const cameOnline = await tx<{ id: string; vendor: string }[]>`
      with v as (
        select * from unnest(${seen.ids}::text[], ${seen.times}::timestamptz[], ${seen.online}::text[]) as v(id, seen, online)
      ), prev as (
        select d.id, d.online as was from devices d join v on v.id = d.id
      ), moved as (
        update devices d set last_seen_at = greatest(d.last_seen_at, v.seen), online = coalesce(v.online::boolean, true)
        from v where d.id = v.id
        returning d.id, d.vendor, d.online
      )
      select moved.id, moved.vendor from moved join prev using (id) join v using (id)
      where moved.online and not prev.was and v.online is null`;
    return { fresh: new Set(inserted.map((r) => r.id)), cameOnline };
  });
}

export async function pageMessages(
  sql: Sql,
  deviceId: string,
  options: { limit: number; before?: string; kind?: string },
): Promise<MessagePage> {
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
  const latest = new Map<string, { deviceId: string; property: string; value: unknown; ts: number }>();
  for (const { envelope } of entries) {
    if (envelope.kind !== "property.report" || typeof envelope.data !== "object" || envelope.data === null) continue;
    for (const [property, value] of Object.entries(envelope.data)) {
      const key = `${envelope.deviceId}\u0000${property}`;
      const current = latest.get(key);
      if (current && current.ts > envelope.ts) continue;
      latest.set(key, { deviceId: envelope.deviceId, property, value, ts: envelope.ts });
    }
  }
  // Sorted, so that rows are written in one order by every batch.
  const rows = [...latest.values()].sort((a, b) => (a.deviceId === b.deviceId ? cmp(a.property, b.property) : cmp(a.deviceId, b.deviceId)));
  return {
    deviceId: rows.map((r) => r.deviceId),
    property: rows.map((r) => r.property),
    value: rows.map((r) => JSON.stringify(r.value ?? null)),
    reportedAt: rows.map((r) => new Date(r.ts).toISOString()),
  };
}

function lastSeen(entries: LogEntry[]) {
  const byDevice = new Map<string, { time: number; online: boolean | null }>();
  for (const { envelope, receivedAt } of entries) {
    const current = byDevice.get(envelope.deviceId) ?? { time: 0, online: null };
    current.time = Math.max(current.time, receivedAt);
    if (envelope.kind === "status.online") current.online = true;
    if (envelope.kind === "status.offline") current.online = false;
    byDevice.set(envelope.deviceId, current);
  }
  const devices = [...byDevice.entries()].sort(([a], [b]) => cmp(a, b));
  return {
    ids: devices.map(([id]) => id),
    times: devices.map(([, v]) => new Date(v.time).toISOString()),
    // As text: postgres.js sends a JS boolean array as a scalar.
    online: devices.map(([, v]) => (v.online === null ? null : String(v.online))),
  };
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
