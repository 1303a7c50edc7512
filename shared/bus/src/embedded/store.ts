import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ConflictError, UmosError } from "@umos/core";

/** A message as the embedded broker keeps it: what a consumer gets, less the redelivered flag. */
export interface StoredMessage {
  routingKey: string;
  body: Buffer;
  headers: Record<string, unknown>;
  messageId: string | undefined;
  contentType: string | undefined;
}

export interface Binding {
  exchange: string;
  pattern: string;
}

export interface StoredQueue {
  name: string;
  bindings: Binding[];
  /** Every message of this queue with a seq up to here was handed to a consumer at least once. */
  deliveredThrough: number;
}

export interface StoredRow {
  seq: number;
  message: StoredMessage;
}

/** One turn's writes, committed together: the broker's unit of durability. */
export interface Commit {
  /** `headers` as JSON, encoded once at publish (null when there are none). */
  inserts: Array<{ seq: number; queue: string; message: StoredMessage; headers: string | null }>;
  acks: number[];
  marks: Array<{ queue: string; deliveredThrough: number }>;
}

/**
 * `normal` (the default) writes the WAL at every commit and fsyncs it at checkpoints: a killed
 * process loses nothing it confirmed, the file is never corrupted, and a power cut or kernel crash
 * may lose the last commits. `full` also fsyncs at every commit, so a confirm survives a power cut
 * as RabbitMQ's does; the fsync blocks the event loop of every service in the process, ~0.1 ms at
 * the median but up to tens of ms on a busy disk, which made p99 at 2,000 msg/s several times
 * worse here (docs/standalone.md, Embedded bus).
 */
export type Synchronous = "full" | "normal";

export interface BusStore {
  queues(): StoredQueue[];
  /** The highest seq ever used, so new messages sort after every stored one and every mark. */
  lastSeq(): number;
  saveQueue(name: string, bindings: Binding[]): void;
  /** Up to `limit` messages of `queue` after `afterSeq`, in order. */
  load(queue: string, afterSeq: number, limit: number): StoredRow[];
  commit(changes: Commit): void;
  /** What the file holds now, committed, as a new file at `target` (VACUUM INTO): a backup. */
  copyTo(target: string): void;
  close(): void;
}

const SCHEMA_VERSION = 1;

/**
 * The broker's file. SQLite in WAL mode with an exclusive lock held for as long as the file is
 * open: a second process gets SQLITE_BUSY at once, and the kernel drops the lock when the holder
 * dies, even by SIGKILL (POSIX advisory locks), so a crash never leaves a stale lock behind.
 */
export function openStore(path: string, synchronous: Synchronous): BusStore {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  try {
    // Set before WAL: with EXCLUSIVE locking SQLite keeps the WAL index in memory and never
    // releases its file lock (sqlite.org/wal.html#noshm).
    db.run("PRAGMA locking_mode = EXCLUSIVE");
    db.run("PRAGMA journal_mode = WAL");
    db.run(`PRAGMA synchronous = ${synchronous.toUpperCase()}`);
    // A burst can grow the WAL to hundreds of MB; give that space back after the next checkpoint.
    db.run("PRAGMA journal_size_limit = 67108864");
    migrate(db, path);
  } catch (err) {
    db.close();
    if (err instanceof Error && (err as { code?: string }).code === "SQLITE_BUSY")
      throw new ConflictError(
        `the embedded bus ${path} is open in another process; one process at a time may use it (stop the other UMOS process, or give this one its own data directory)`,
      );
    throw err;
  }

  const insert = db.query("INSERT INTO messages (seq, queue, routing_key, message_id, content_type, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const remove = db.query("DELETE FROM messages WHERE seq = ?");
  const mark = db.query("UPDATE queues SET delivered_through = ? WHERE name = ?");
  const select = db.query(
    "SELECT seq, routing_key, message_id, content_type, headers, body FROM messages WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?",
  ) as Statement<MessageRow>;
  const commit = db.transaction((changes: Commit) => {
    for (const { seq, queue, message: m, headers } of changes.inserts)
      insert.run(seq, queue, m.routingKey, m.messageId ?? null, m.contentType ?? null, headers, m.body);
    for (const seq of changes.acks) remove.run(seq);
    for (const m of changes.marks) mark.run(m.deliveredThrough, m.queue);
  });

  return {
    queues: () =>
      (db.query("SELECT name, bindings, delivered_through FROM queues").all() as QueueRow[]).map((r) => ({
        name: r.name,
        bindings: JSON.parse(r.bindings) as Binding[],
        deliveredThrough: r.delivered_through,
      })),
    lastSeq: () => {
      const row = db
        .query("SELECT max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT max(delivered_through) FROM queues), 0)) AS seq")
        .get() as { seq: number };
      return row.seq;
    },
    saveQueue: (name, bindings) =>
      void db
        .query("INSERT INTO queues (name, bindings) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET bindings = excluded.bindings")
        .run(name, JSON.stringify(bindings)),
    load: (queue, afterSeq, limit) => select.all(queue, afterSeq, limit).map(toRow),
    commit: (changes) => void commit(changes),
    copyTo: (target) => void db.run(`VACUUM INTO '${target.replaceAll("'", "''")}'`),
    close: () => db.close(),
  };
}

interface QueueRow {
  name: string;
  bindings: string;
  delivered_through: number;
}

interface MessageRow {
  seq: number;
  routing_key: string;
  message_id: string | null;
  content_type: string | null;
  headers: string | null;
  body: Uint8Array;
}

function migrate(db: Database, path: string): void {
  const { user_version: version } = db.query("PRAGMA user_version").get() as { user_version: number };
  if (version > SCHEMA_VERSION) throw new UmosError("bus_schema", `the embedded bus ${path} was written by a newer UMOS (schema ${version})`, false);
  db.run(`CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    bindings TEXT NOT NULL,
    delivered_through INTEGER NOT NULL DEFAULT 0
  ) STRICT`);
  // seq is the rowid: appends go to the end of the table's B-tree, acks delete by key.
  db.run(`CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    message_id TEXT,
    content_type TEXT,
    headers TEXT,
    body BLOB NOT NULL
  ) STRICT`);
  db.run("CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, seq)");
  db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}

/** Headers as the file keeps them; throws on what JSON cannot hold (a bigint, a cycle). */
export function encodeHeaders(headers: Record<string, unknown>): string | null {
  for (const _ in headers) return JSON.stringify(headers);
  return null;
}

function toRow(r: MessageRow): StoredRow {
  return {
    seq: r.seq,
    message: {
      routingKey: r.routing_key,
      body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength),
      headers: r.headers ? (JSON.parse(r.headers) as Record<string, unknown>) : {},
      messageId: r.message_id ?? undefined,
      contentType: r.content_type ?? undefined,
    },
  };
}
