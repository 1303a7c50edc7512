import type { Envelope } from "@umos/contracts";
import type { Sql } from "./database";

/** A decoded message ready for the log. */
export interface LogEntry {
  envelope: Envelope;
  dedupeKey: string;
  receivedAt: number;
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
export async function writeBatch(sql: Sql, entries: LogEntry[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const rows = entries.map(({ envelope: e, dedupeKey, receivedAt }) => ({
    id: e.id,
    device_id: e.deviceId,
    dedupe_key: dedupeKey,
    vendor: e.vendor,
    kind: e.kind,
    ts: new Date(e.ts),
    received_at: new Date(receivedAt),
    data: e.data as never,
    correlation_id: e.correlationId ?? null,
  }));
  const state = latestState(entries);
  const seen = lastSeen(entries);

  return sql.begin(async (tx) => {
    const inserted = await tx<{ id: string }[]>`
      insert into message_log ${tx(rows)} on conflict do nothing returning id`;
    if (state.length > 0) {
      await tx`
        insert into device_state ${tx(state)}
        on conflict (device_id, property) do update set value = excluded.value, reported_at = excluded.reported_at
        where device_state.reported_at <= excluded.reported_at`;
    }
    await tx`
      update devices d set
        last_seen_at = greatest(d.last_seen_at, v.seen),
        online = coalesce(v.online, true)
      from unnest(${seen.ids}::text[], ${seen.times}::timestamptz[], ${seen.online}::boolean[]) as v(id, seen, online)
      where d.id = v.id`;
    return new Set(inserted.map((r) => r.id));
  });
}

export async function pageMessages(
  sql: Sql,
  deviceId: string,
  options: { limit: number; before?: string; kind?: string },
): Promise<MessagePage> {
  const rows = await sql<StoredMessage[]>`
    select id, device_id as "deviceId", vendor, kind, ts, received_at as "receivedAt", data, correlation_id as "correlationId"
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
  const latest = new Map<string, { device_id: string; property: string; value: never; reported_at: Date }>();
  for (const { envelope } of entries) {
    if (envelope.kind !== "property.report" || typeof envelope.data !== "object" || envelope.data === null) continue;
    for (const [property, value] of Object.entries(envelope.data)) {
      const key = `${envelope.deviceId}\u0000${property}`;
      const current = latest.get(key);
      if (current && current.reported_at.getTime() > envelope.ts) continue;
      latest.set(key, { device_id: envelope.deviceId, property, value: value as never, reported_at: new Date(envelope.ts) });
    }
  }
  return [...latest.values()];
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
  return {
    ids: [...byDevice.keys()],
    times: [...byDevice.values()].map((v) => new Date(v.time)),
    online: [...byDevice.values()].map((v) => v.online),
  };
}
