import type { Settle } from "../delivery";
import type { BusMessage } from "../types";
import type { Binding, StoredMessage } from "./store";
import { compileTopic } from "./topic-match";

/** A message handed to a consumer, settled as ../delivery settles it; a requeue puts it back at the head of its queue. */
export interface Delivery extends Settle {
  message: BusMessage;
}

export interface Entry {
  seq: number;
  message: StoredMessage;
  redelivered: boolean;
}

export interface Subscriber {
  queue: Queue;
  prefetch: number;
  inFlight: number;
  deliver(delivery: Delivery): void;
}

/**
 * One queue's messages in memory: requeued ones first, in their original order, then the rest in
 * publish order (FIFO). Ready messages of a durable queue past the broker's memory window stay
 * in the file only (`spilled`) and are read back as the queue drains.
 */
export interface Queue {
  readonly name: string;
  readonly durable: boolean;
  readonly bindings: Binding[];
  /** The bus that declared an exclusive queue. */
  owner: object | undefined;
  deleted: boolean;
  spilled: boolean;
  /** The highest seq that came into memory: the file holds this queue's later ones. */
  tailSeq: number;
  deliveredThrough: number;
  subscribers: Subscriber[];
  bind(binding: Binding): void;
  matches(exchange: string, routingKey: string): boolean;
  append(entry: Entry): void;
  requeue(entry: Entry): void;
  take(): Entry | undefined;
  readyCount(): number;
  /** The next subscriber with room under its prefetch, round robin. */
  nextSubscriber(): Subscriber | undefined;
}

export function createQueue(name: string, durable: boolean, bindings: Binding[]): Queue {
  const matchers: Array<{ exchange: string; match: (key: string) => boolean }> = [];
  const requeued: Entry[] = [];
  let ready: Entry[] = [];
  let head = 0;
  let turn = 0;

  const queue: Queue = {
    name,
    durable,
    bindings: [],
    owner: undefined,
    deleted: false,
    spilled: false,
    tailSeq: 0,
    deliveredThrough: 0,
    subscribers: [],

    bind(binding) {
      queue.bindings.push(binding);
      matchers.push({ exchange: binding.exchange, match: compileTopic(binding.pattern) });
    },

    matches: (exchange, routingKey) => matchers.some((m) => m.exchange === exchange && m.match(routingKey)),

    append(entry) {
      ready.push(entry);
      queue.tailSeq = entry.seq;
    },

    requeue(entry) {
      let at = requeued.length;
      while (at > 0 && requeued[at - 1]!.seq > entry.seq) at--;
      requeued.splice(at, 0, entry);
    },

    take() {
      if (requeued.length > 0) return requeued.shift();
      if (head >= ready.length) return undefined;
      const entry = ready[head++];
      // Drop the consumed prefix now and then rather than shift() per message.
      if (head >= 4096 && head * 2 >= ready.length) {
        ready = ready.slice(head);
        head = 0;
      }
      return entry;
    },

    readyCount: () => ready.length - head + requeued.length,

    nextSubscriber() {
      const count = queue.subscribers.length;
      for (let i = 0; i < count; i++) {
        const subscriber = queue.subscribers[(turn + i) % count]!;
        if (subscriber.inFlight < subscriber.prefetch) {
          turn = (turn + i + 1) % count;
          return subscriber;
        }
      }
      return undefined;
    },
  };
  for (const binding of bindings) queue.bind(binding);
  return queue;
}
