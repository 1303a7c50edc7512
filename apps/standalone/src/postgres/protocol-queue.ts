import type { PGlite } from "@electric-sql/pglite";

/**
 * Puts the wire-protocol messages of several client connections through PGlite's one backend.
 *
 * pglite-socket 0.2.17's own queue (`maxConnections` > 1) takes messages in arrival order and keeps
 * a connection to itself only inside a transaction block. The extended protocol is several messages
 * (Parse, Bind, Describe, Execute, then Sync) sharing the backend's unnamed statement and portal, so
 * two postgres.js connections interleave them and fail with `portal "" does not exist` (measured
 * with three pools of three). Here a connection keeps the backend from its first message until the
 * Sync or simple Query that ends its sequence, and for as long as a transaction block stays open.
 */
export interface ProtocolQueue {
  /** One complete frontend message of a connection; resolves once PGlite has answered it. */
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number>;
  /** The connection is gone: its waiting messages are dropped. */
  clearQueueForHandler(handlerId: number): void;
  /** The connection is gone: if it held the backend, its sequence and transaction are ended. */
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
  /**
   * Runs `task` when no connection holds the backend, between transactions, with every connection
   * waiting meanwhile: a snapshot of the data directory then holds only committed work.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
}

/** A task of the process's own (`exclusive`), queued like a connection that never holds the backend. */
const OWN_TASK = -1;

interface Waiting {
  handlerId: number;
  message: Uint8Array;
  task?: () => Promise<unknown>;
  onData(data: Uint8Array): void;
  resolve(bytes: number): void;
  reject(err: Error): void;
}

// Frontend message types (PostgreSQL protocol §55.7) that end a unit of work.
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
const SYNC_MESSAGE = new Uint8Array([SYNC, 0, 0, 0, 4]);

export function createProtocolQueue(db: PGlite): ProtocolQueue {
  let waiting: Waiting[] = [];
  let owner: number | null = null;
  let running = false;

  /** A startup, SSL or cancel request starts with a length, not a type: its first byte is 0. */
  const endsUnit = (message: Uint8Array) => message[0] === SYNC || message[0] === QUERY || message[0] === TERMINATE || message[0] === 0;

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const index = owner === null ? 0 : waiting.findIndex((w) => w.handlerId === owner);
        if (index < 0 || waiting.length === 0) return; // the owner's next message has not arrived yet
        const next = waiting.splice(index, 1)[0]!;
        if (next.task) {
          await next.task().then(next.resolve as (value: unknown) => void, next.reject);
          continue;
        }
        let bytes = 0;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(next.message, {
              onRawData: (data) => {
                bytes += data.length;
                next.onData(data);
              },
            }),
          );
        } catch (err) {
          next.reject(err as Error);
          continue;
        }
        owner = endsUnit(next.message) && !db.isInTransaction() ? null : next.handlerId;
        next.resolve(bytes);
      }
    } finally {
      running = false;
    }
  }

  return {
    enqueue(handlerId, message, onData) {
      return new Promise((resolve, reject) => {
        waiting.push({ handlerId, message, onData, resolve, reject });
        void run();
      });
    },
    exclusive<T>(task: () => Promise<T>) {
      return new Promise<T>((resolve, reject) => {
        waiting.push({ handlerId: OWN_TASK, message: new Uint8Array(), onData: () => {}, task, resolve: resolve as (value: unknown) => void, reject });
        void run();
      });
    },
    clearQueueForHandler(handlerId) {
      const mine = waiting.filter((w) => w.handlerId === handlerId);
      waiting = waiting.filter((w) => w.handlerId !== handlerId);
      for (const w of mine) w.reject(new Error("connection closed"));
    },
    async clearTransactionIfNeeded(handlerId) {
      if (owner !== handlerId) return;
      // A Sync ends a half-sent extended sequence (and an error state); then any open block is rolled back.
      await db.runExclusive(() => db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => {} }));
      if (db.isInTransaction()) await db.exec("rollback");
      owner = null;
      void run();
    },
  };
}
