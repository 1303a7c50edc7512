import { Database, type Statement } from "bun:sqlite";

/** A device frame on its way to RabbitMQ, as the spool keeps it. */
export interface SpooledFrame {
  /** Arrival order at this gateway: frames leave the spool in this order. */
  seq: number;
  routingKey: string;
  messageId: string;
  headers: Record<string, unknown>;
  payload: Buffer;
  /** Set for a frame that goes to the dead-letter exchange instead (unroutable, oversized). */
  deadLetter?: { code: string; reason: string };
}

export interface SpoolLimits {
  maxMessages: number;
  maxBytes: number;
}

/**
 * A bounded, durable FIFO of frames in one SQLite file (WAL). `append` commits a whole batch in
 * one transaction with synchronous=FULL, so a frame is on disk, through a power cut too, once
 * `append` returns: only then may its PUBACK leave.
 */
export interface Spool {
  /** Whether `count` more frames of `bytes` payload bytes fit within the limits. */
  hasRoom(count: number, bytes: number): boolean;
  append(frames: readonly SpooledFrame[]): void;
  /** The oldest frames, in `seq` order. */
  peek(limit: number): SpooledFrame[];
  /** Removes every frame up to and including `seq`. */
  removeThrough(seq: number): void;
  size(): number;
  bytes(): number;
  /** Age of the oldest frame, 0 when empty. */
  oldestAgeMs(): number;
  /** One past the highest `seq` stored, so numbering carries on after a restart. */
  nextSeq(): number;
  close(): void;
}

interface Row {
  seq: number;
  routing_key: string;
  message_id: string;
  headers: string;
  payload: Uint8Array;
  dl_code: string | null;
  dl_reason: string | null;
}

export function openSpool(path: string, limits: SpoolLimits, now: () => number = Date.now): Spool {
  const db = new Database(path, { create: true, strict: true });
  db.run("pragma journal_mode = wal");
  db.run("pragma synchronous = full");
  db.run(`create table if not exists frames (
    seq integer primary key,
    spooled_at integer not null,
    routing_key text not null,
    message_id text not null,
    headers text not null,
    payload blob not null,
    dl_code text,
    dl_reason text
  )`);
  const insert = db.query(
    "insert into frames (seq, spooled_at, routing_key, message_id, headers, payload, dl_code, dl_reason) values ($seq, $at, $rk, $id, $headers, $payload, $code, $reason)",
  );
  const select: Statement<Row, [number]> = db.query(
    "select seq, routing_key, message_id, headers, payload, dl_code, dl_reason from frames order by seq limit ?",
  );
  const totals = db.query<{ n: number; bytes: number | null; last: number | null }, []>(
    "select count(*) n, sum(length(payload)) bytes, max(seq) last from frames",
  );
  const sizeThrough = db.query<{ n: number; bytes: number | null }, [number]>("select count(*) n, sum(length(payload)) bytes from frames where seq <= ?");
  const remove = db.query("delete from frames where seq <= ?");
  const oldest = db.query<{ at: number }, []>("select spooled_at at from frames order by seq limit 1");

  // Kept in memory: the hot checks (room, size for metrics) must not query.
  const initial = totals.get()!;
  let count = initial.n;
  let byteCount = initial.bytes ?? 0;
  let next = (initial.last ?? 0) + 1;

  const appendAll = db.transaction((frames: readonly SpooledFrame[], at: number) => {
    for (const f of frames) {
      insert.run({
        seq: f.seq,
        at,
        rk: f.routingKey,
        id: f.messageId,
        headers: JSON.stringify(f.headers),
        payload: f.payload,
        code: f.deadLetter?.code ?? null,
        reason: f.deadLetter?.reason ?? null,
      });
    }
  });
  const removeAll = db.transaction((seq: number) => {
    const gone = sizeThrough.get(seq)!;
    remove.run(seq);
    return gone;
  });

  return {
    // An empty spool takes one frame whatever its size, so a frame larger than maxBytes cannot stall it.
    hasRoom: (n, bytes) => (count === 0 && n === 1) || (count + n <= limits.maxMessages && byteCount + bytes <= limits.maxBytes),
    append(frames) {
      if (frames.length === 0) return;
      appendAll(frames, now());
      count += frames.length;
      for (const f of frames) {
        byteCount += f.payload.byteLength;
        if (f.seq >= next) next = f.seq + 1;
      }
    },
    peek: (limit) =>
      select.all(limit).map((r) => ({
        seq: r.seq,
        routingKey: r.routing_key,
        messageId: r.message_id,
        headers: JSON.parse(r.headers) as Record<string, unknown>,
        payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength),
        ...(r.dl_code !== null ? { deadLetter: { code: r.dl_code, reason: r.dl_reason ?? "" } } : {}),
      })),
    removeThrough(seq) {
      const gone = removeAll(seq);
      count -= gone.n;
      byteCount -= gone.bytes ?? 0;
    },
    size: () => count,
    bytes: () => byteCount,
    oldestAgeMs() {
      const row = count > 0 ? oldest.get() : null;
      return row ? Math.max(0, now() - row.at) : 0;
    },
    nextSeq: () => next,
    close: () => db.close(),
  };
}
