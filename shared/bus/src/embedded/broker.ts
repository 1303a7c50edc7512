import { ConflictError, InvalidInputError, NotFoundError, UnavailableError, type Logger } from "@umos/core";
import { createQueue, type Delivery, type Entry, type Queue, type Subscriber } from "./queue";
import { encodeHeaders, openStore, type Binding, type BusStore, type Commit, type StoredMessage, type Synchronous } from "./store";

export interface Subscription {
  /** No further deliveries; those in flight may still be settled. */
  cancel(): void;
}

export interface Broker {
  /** Creates the queue, or adds bindings to it; durable queues and their bindings are kept in the file. */
  declareDurable(name: string, bindings: Binding[]): void;
  /** An in-memory queue that belongs to `owner` until deleted; another owner gets a ConflictError. */
  declareExclusive(name: string, bindings: Binding[], owner: object): void;
  deleteQueue(name: string): void;
  hasQueue(name: string): boolean;
  /**
   * Resolves once the message is in the file for every durable queue it was routed to (or, with
   * `queue`, for that one queue alone). Unroutable messages are dropped, as RabbitMQ drops them.
   */
  publish(exchange: string, message: StoredMessage, queue?: string): Promise<void>;
  subscribe(queue: string, prefetch: number, deliver: (delivery: Delivery) => void): Subscription;
  /** False once a write failed: the broker then stops, keeping what it had confirmed. */
  healthy(): boolean;
  /** The file as a new file at `target`, with the acks held back for the next turn written first: a backup. */
  copyTo(target: string): void;
  close(): void;
}

/** Ready messages a durable queue keeps in memory; past that they wait in the file only. */
const MEMORY_WINDOW = 10_000;
/**
 * Acks ride along with the next turn that writes anyway, or go alone after this long or this many:
 * an ack lost in a crash only means a redelivery, so it is not worth a commit (an fsync) of its own.
 */
const ACK_DELAY_MS = 100;
const ACK_BATCH = 1000;

interface PendingPublish {
  exchange: string;
  message: StoredMessage;
  headers: string | null;
  queue: Queue | undefined;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * A durable topic broker in one SQLite file (docs/standalone.md, Embedded bus). Work is gathered per
 * event-loop turn: the publishes, acks and delivery marks of a turn are one transaction, after
 * which the publishes resolve and consumers get their messages, woken in process, not by polling.
 *
 * A message is handed to a consumer only once it is in the file, and once the file records that
 * its queue delivered that far (`delivered_through`): after a crash, exactly the messages that may
 * have been seen come back with `redelivered` set, which the uplink relies on (docs/design.md §3).
 */
export function createBroker(path: string, synchronous: Synchronous, log: Logger): Broker {
  const store: BusStore = openStore(path, synchronous);
  const queues = new Map<string, Queue>();
  const routes = new Map<string, Queue[]>();
  let lastSeq = store.lastSeq();
  let pending: PendingPublish[] = [];
  let acks: number[] = [];
  let scheduled = false;
  let acksDue = false;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  let failure: Error | null = null;
  let closed = false;

  for (const saved of store.queues()) {
    const queue = createQueue(saved.name, true, saved.bindings);
    queue.deliveredThrough = saved.deliveredThrough;
    queue.spilled = true; // its messages are loaded by the first turn
    queues.set(saved.name, queue);
  }
  schedule();

  function schedule(): void {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(turn);
  }

  function turn(): void {
    scheduled = false;
    if (failure || closed) return;
    const publishes = pending;
    pending = [];
    const changes: Commit = { inserts: [], acks: [], marks: [] };
    let handouts: Array<[Subscriber, Entry]>;
    try {
      for (const queue of queues.values()) if (queue.spilled && queue.readyCount() < MEMORY_WINDOW / 2) refill(queue);
      for (const publish of publishes) route(publish, changes);
      handouts = plan(changes);
      takeAcks(changes);
      if (changes.inserts.length > 0 || changes.acks.length > 0 || changes.marks.length > 0) store.commit(changes);
    } catch (err) {
      // Nothing of this turn is handed out: the broker stops with the file as it was.
      fail(err, publishes);
      return;
    }
    for (const mark of changes.marks) queues.get(mark.queue)!.deliveredThrough = mark.deliveredThrough;
    for (const publish of publishes) publish.resolve();
    for (const [subscriber, entry] of handouts) hand(subscriber, entry);
  }

  function takeAcks(changes: Commit): void {
    if (acks.length === 0) return;
    if (changes.inserts.length > 0 || changes.marks.length > 0 || acks.length >= ACK_BATCH || acksDue) {
      changes.acks = acks;
      acks = [];
      acksDue = false;
      clearTimeout(ackTimer);
      ackTimer = undefined;
    } else if (!ackTimer) {
      ackTimer = setTimeout(() => {
        ackTimer = undefined;
        acksDue = true;
        schedule();
      }, ACK_DELAY_MS);
    }
  }

  function refill(queue: Queue): void {
    const room = MEMORY_WINDOW - queue.readyCount();
    const rows = store.load(queue.name, queue.tailSeq, room);
    for (const row of rows) queue.append({ seq: row.seq, message: row.message, redelivered: row.seq <= queue.deliveredThrough });
    if (rows.length < room) queue.spilled = false;
  }

  /** Puts one publish on its queues: in memory while there is room, and in the commit when durable. */
  function route(publish: PendingPublish, changes: Commit): void {
    const targets = publish.queue ? [publish.queue] : routeOf(publish.exchange, publish.message.routingKey);
    for (const queue of targets) {
      if (queue.deleted) continue;
      const entry: Entry = { seq: ++lastSeq, message: publish.message, redelivered: false };
      if (queue.durable) changes.inserts.push({ seq: entry.seq, queue: queue.name, message: publish.message, headers: publish.headers });
      if (queue.durable && (queue.spilled || queue.readyCount() >= MEMORY_WINDOW)) queue.spilled = true;
      else queue.append(entry);
    }
  }

  function routeOf(exchange: string, routingKey: string): Queue[] {
    const key = `${exchange}\u0000${routingKey}`;
    let targets = routes.get(key);
    if (!targets) {
      targets = [...queues.values()].filter((q) => q.matches(exchange, routingKey));
      if (routes.size >= 10_000) routes.clear();
      routes.set(key, targets);
    }
    return targets;
  }

  /**
   * Takes the messages consumers have room for, round robin per queue, and adds to the commit the
   * new delivery mark of each durable queue, so they are handed out only once that is on disk.
   */
  function plan(changes: Commit): Array<[Subscriber, Entry]> {
    const handouts: Array<[Subscriber, Entry]> = [];
    for (const queue of queues.values()) {
      let through = queue.deliveredThrough;
      for (let subscriber = queue.nextSubscriber(); subscriber; subscriber = queue.nextSubscriber()) {
        const entry = queue.take();
        if (!entry) break;
        subscriber.inFlight++;
        if (entry.seq > through) through = entry.seq;
        handouts.push([subscriber, entry]);
      }
      if (queue.durable && through > queue.deliveredThrough) changes.marks.push({ queue: queue.name, deliveredThrough: through });
    }
    return handouts;
  }

  function hand(subscriber: Subscriber, entry: Entry): void {
    const { queue } = subscriber;
    let settled = false;
    const settle = (requeue: boolean) => {
      if (settled) return;
      settled = true;
      subscriber.inFlight--;
      if (failure || closed) return; // unsettled in the file: delivered again after a restart
      if (requeue && !queue.deleted) queue.requeue({ ...entry, redelivered: true });
      else if (queue.durable) acks.push(entry.seq);
      schedule();
    };
    const delivery: Delivery = {
      message: { ...entry.message, redelivered: entry.redelivered },
      ack: () => settle(false),
      requeue: () => settle(true),
    };
    try {
      subscriber.deliver(delivery);
    } catch (err) {
      log.error("consumer threw on delivery; requeueing", { queue: queue.name, err });
      delivery.requeue();
    }
  }

  function fail(err: unknown, publishes: PendingPublish[]): void {
    failure = new UnavailableError(`the embedded bus ${path} could not write: ${err instanceof Error ? err.message : String(err)}`);
    log.error("embedded bus stopped: a write failed; what was confirmed is on disk, restart once the disk is fixed", { err });
    for (const publish of [...publishes, ...pending]) publish.reject(failure);
    pending = [];
  }

  function declare(queue: Queue): void {
    queues.set(queue.name, queue);
    routes.clear();
  }

  return {
    declareDurable(name, bindings) {
      const existing = queues.get(name);
      if (existing && !existing.durable) throw new ConflictError(`queue ${name} exists and is not durable`);
      const missing = bindings.filter((b) => !existing?.bindings.some((e) => e.exchange === b.exchange && e.pattern === b.pattern));
      if (existing && missing.length === 0) return;
      const queue = existing ?? createQueue(name, true, []);
      for (const binding of missing) queue.bind(binding);
      store.saveQueue(name, queue.bindings);
      declare(queue);
    },

    declareExclusive(name, bindings, owner) {
      const existing = queues.get(name);
      if (existing && existing.owner !== owner) throw new ConflictError(`queue ${name} is in use by another consumer (exclusive)`);
      if (existing) return;
      const queue = createQueue(name, false, bindings);
      queue.owner = owner;
      declare(queue);
    },

    deleteQueue(name) {
      const queue = queues.get(name);
      if (!queue) return;
      queue.deleted = true;
      queues.delete(name);
      routes.clear();
    },

    hasQueue: (name) => queues.has(name),

    publish(exchange, message, queueName) {
      if (failure) return Promise.reject(failure);
      if (closed) return Promise.reject(new UnavailableError(`the embedded bus ${path} is closed`));
      const queue = queueName === undefined ? undefined : queues.get(queueName);
      if (queueName !== undefined && !queue?.durable) return Promise.reject(new NotFoundError(`no durable queue '${queueName}'`));
      let headers: string | null;
      try {
        headers = encodeHeaders(message.headers);
      } catch (err) {
        return Promise.reject(new InvalidInputError("bad_headers", `headers of ${message.routingKey} cannot be stored: ${String(err)}`));
      }
      return new Promise((resolve, reject) => {
        pending.push({ exchange, message, headers, queue, resolve, reject });
        schedule();
      });
    },

    subscribe(name, prefetch, deliver) {
      const queue = queues.get(name);
      if (!queue) throw new NotFoundError(`no queue '${name}' in the embedded bus`);
      const subscriber: Subscriber = { queue, prefetch, inFlight: 0, deliver };
      queue.subscribers.push(subscriber);
      schedule();
      return {
        cancel() {
          queue.subscribers = queue.subscribers.filter((s) => s !== subscriber);
        },
      };
    },

    healthy: () => failure === null && !closed,

    copyTo(target) {
      if (closed) throw new UnavailableError(`the embedded bus ${path} is closed`);
      acksDue = true;
      if (!failure) turn();
      store.copyTo(target);
    },

    close() {
      if (closed) return;
      // The last acks and publishes go to disk before the file closes.
      acksDue = true;
      if (!failure) turn();
      clearTimeout(ackTimer);
      closed = true;
      for (const publish of pending) publish.reject(new UnavailableError(`the embedded bus ${path} is closed`));
      store.close();
    },
  };
}
