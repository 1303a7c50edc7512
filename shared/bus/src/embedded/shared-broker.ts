import { resolve } from "node:path";
import type { Logger } from "@umos/core";
import { createBroker, type Broker } from "./broker";
import type { Synchronous } from "./store";

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
