import { resolve } from "node:path";
import type { Logger } from "@umos/core";
import { createBroker, type Broker } from "./broker";
import { openStore, type Synchronous } from "./store";

export interface BrokerLease {
  broker: Broker;
  /** The last release of a file closes it. */
  release(): void;
}

const open = new Map<string, { broker: Broker; leases: number }>();

/**
 * The one broker of a file in this process, shared by every service the process runs: the file's
 * lock admits one process, and a broker per bus would split one queue's consumers between brokers.
 * The first opener's `synchronous` holds for all.
 */
export function leaseBroker(path: string, synchronous: Synchronous, log: Logger): BrokerLease {
  const key = resolve(path);
  let shared = open.get(key);
  if (!shared) {
    shared = { broker: createBroker(key, synchronous, log), leases: 0 };
    open.set(key, shared);
  }
  shared.leases++;
  const held = shared;
  let released = false;
  return {
    broker: held.broker,
    release() {
      if (released) return;
      released = true;
      if (--held.leases > 0) return;
      open.delete(key);
      held.broker.close();
    },
  };
}

/**
 * A backup of an embedded bus file at `target`: through this process's broker when it has the file
 * open (its lock admits no other reader), else by opening the file, which fails while another
 * process holds it.
 */
export function copyEmbeddedBus(path: string, target: string): void {
  const shared = open.get(resolve(path));
  if (shared) {
    shared.broker.copyTo(target);
    return;
  }
  const store = openStore(path, "normal");
  try {
    store.copyTo(target);
  } finally {
    store.close();
  }
}
