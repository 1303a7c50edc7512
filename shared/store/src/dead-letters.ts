import { ConflictError, NotFoundError } from "@umos/core";
import type { Sql } from "./database";

/** A dead-lettered message as the archiver read it off the iot-dead-letter queue. */
export interface NewDeadLetter {
  /** Same message, same key: a redelivery is stored once. */
  dedupeKey: string;
  queue: string;
  code: string;
  reason: string;
  routingKey: string;
  messageId: string | null;
  contentType: string | null;
  deviceId: string | null;
  /** JSON-safe: jsonb refuses \u0000 and lone surrogates. */
  headers: Record<string, unknown>;
  payload: Uint8Array;
  /** The body's size before any cut; larger than payload.byteLength when it was cut. */
  payloadSize: number;
  replayCount: number;
  deadLetteredAt: Date;
}

export interface DeadLetter extends Omit<NewDeadLetter, "dedupeKey" | "payload"> {
  id: string;
  /** The whole stored body from get(); from page(), its first `previewBytes`. */
  payload: Buffer;
  replayedAt: Date | null;
}

export type DeadLetterState = "pending" | "replayed";

export interface DeadLetterFilter {
  queue?: string;
  code?: string;
  deviceId?: string;
  state?: DeadLetterState;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  nextCursor: string | null;
}

const columns = (sql: Sql) => sql`
  id, queue, code, reason, routing_key as "routingKey", message_id as "messageId", content_type as "contentType",
  device_id as "deviceId", headers, payload_size as "payloadSize", replay_count as "replayCount",
  dead_lettered_at as "deadLetteredAt", replayed_at as "replayedAt"`;

/**
 * Dead letters at rest (docs/operations.md, Dead letters): archived by iot-uplink, listed, replayed and deleted
 * through iot-api. A replayed row is kept, marked with `replayedAt`, as the record of what was sent
 * again; if the message dies again that is a new row with a higher `replayCount`.
 */
/** Dead letters at rest: archived by iot-uplink, listed, replayed and deleted through iot-api. */
export interface DeadLetterRepository {
  /** Stores what is new (a redelivery is stored once); returns how many were. */
  archive(entries: NewDeadLetter[]): Promise<number>;
  get(id: string): Promise<DeadLetter>;
  page(filter: DeadLetterFilter & { limit: number; before?: string; previewBytes: number }): Promise<DeadLetterPage>;
  pendingIds(filter: Omit<DeadLetterFilter, "state">, limit: number): Promise<string[]>;
  /** Marks a pending dead letter as being replayed; a ConflictError if it already was. */
  claimReplay(id: string): Promise<Date>;
  releaseReplay(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  countByQueue(): Promise<{ queue: string; code: string; count: number }[]>;
}

export function deadLetterRepository(sql: Sql): DeadLetterRepository {
  const where = (filter: DeadLetterFilter) => sql`
    ${filter.queue ? sql`and queue = ${filter.queue}` : sql``}
    ${filter.code ? sql`and code = ${filter.code}` : sql``}
    ${filter.deviceId ? sql`and device_id = ${filter.deviceId}` : sql``}
    ${filter.state === "pending" ? sql`and replayed_at is null` : filter.state === "replayed" ? sql`and replayed_at is not null` : sql``}`;

  async function get(id: string): Promise<DeadLetter> {
    const [row] = await sql<DeadLetter[]>`select ${columns(sql)}, payload from dead_letters where id = ${id}`;
    if (!row) throw new NotFoundError(`dead letter '${id}' does not exist`);
    return row;
  }

  return {
    /** Stores new dead letters in one statement, skipping those already stored; resolves once committed. */
    async archive(entries: NewDeadLetter[]): Promise<number> {
      if (entries.length === 0) return 0;
      // Column arrays through unnest (as the message log does): one statement whatever the batch size;
      // bytes travel as base64 text and JSON as text, each decoded per row.
      const result = await sql`
        insert into dead_letters (id, dedupe_key, queue, code, reason, routing_key, message_id, content_type, device_id,
          headers, payload, payload_size, replay_count, dead_lettered_at)
        select id, dedupe_key, queue, code, reason, routing_key, message_id, content_type, device_id,
          headers::jsonb, decode(payload, 'base64'), payload_size, replay_count, dead_lettered_at
        from unnest(${entries.map(() => Bun.randomUUIDv7())}::uuid[], ${entries.map((e) => e.dedupeKey)}::text[],
          ${entries.map((e) => e.queue)}::text[], ${entries.map((e) => e.code)}::text[], ${entries.map((e) => e.reason)}::text[],
          ${entries.map((e) => e.routingKey)}::text[], ${entries.map((e) => e.messageId)}::text[], ${entries.map((e) => e.contentType)}::text[],
          ${entries.map((e) => e.deviceId)}::text[], ${entries.map((e) => JSON.stringify(e.headers))}::text[],
          ${entries.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength).toString("base64"))}::text[],
          ${entries.map((e) => e.payloadSize)}::int[], ${entries.map((e) => e.replayCount)}::int[],
          ${entries.map((e) => e.deadLetteredAt.toISOString())}::timestamptz[])
          as v(id, dedupe_key, queue, code, reason, routing_key, message_id, content_type, device_id, headers, payload,
            payload_size, replay_count, dead_lettered_at)
        on conflict (dedupe_key) do nothing`;
      return result.count;
    },

    /** Newest first, each with the head of its payload; pass `nextCursor` as `before`. */
    async page(filter: DeadLetterFilter & { limit: number; before?: string; previewBytes: number }): Promise<DeadLetterPage> {
      const rows = await sql<DeadLetter[]>`
        select ${columns(sql)}, substring(payload from 1 for ${filter.previewBytes}) as payload
        from dead_letters
        where true ${where(filter)} ${filter.before ? sql`and id < ${filter.before}` : sql``}
        order by id desc limit ${filter.limit + 1}`;
      const items = rows.slice(0, filter.limit);
      return { items, nextCursor: rows.length > filter.limit ? items[items.length - 1]!.id : null };
    },

    get,

    /** Ids of pending dead letters matching the filter, oldest first: the order they died in. */
    async pendingIds(filter: Omit<DeadLetterFilter, "state">, limit: number): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select id from dead_letters where replayed_at is null ${where(filter)} order by id limit ${limit}`;
      return rows.map((r) => r.id);
    },

    /**
     * Marks a pending dead letter replayed before it is sent, so two callers cannot both send it;
     * a failed send hands it back with releaseReplay. Resolves with its `replayedAt`.
     */
    async claimReplay(id: string): Promise<Date> {
      const [row] = await sql<{ replayedAt: Date }[]>`
        update dead_letters set replayed_at = now() where id = ${id} and replayed_at is null returning replayed_at as "replayedAt"`;
      if (row) return row.replayedAt;
      const current = await get(id);
      throw new ConflictError(`dead letter '${id}' was replayed at ${current.replayedAt!.toISOString()}; if it died again, that is a newer dead letter`);
    },

    async releaseReplay(id: string): Promise<void> {
      await sql`update dead_letters set replayed_at = null where id = ${id}`;
    },

    async remove(id: string): Promise<void> {
      const result = await sql`delete from dead_letters where id = ${id}`;
      if (result.count === 0) throw new NotFoundError(`dead letter '${id}' does not exist`);
    },

    /** Pending (not replayed) dead letters per queue and code: the iot_dead_letters gauge. */
    async countByQueue(): Promise<{ queue: string; code: string; count: number }[]> {
      return sql<{ queue: string; code: string; count: number }[]>`
        select queue, code, count(*)::int as count from dead_letters where replayed_at is null group by queue, code order by queue, code`;
    },
  };
}
