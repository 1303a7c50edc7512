import { HEADERS } from "@umos/contracts";
import { isPermanent, UnavailableError, backoffDelay, type Logger } from "@umos/core";
import type { Bus, BusMessage, MessageHandler, PublishOptions } from "./types";

/**
 * Longest wait between tries while a dependency is down: short, since the retry is cheap (the
 * delivery stays on this consumer's prefetch) and it bounds how long after the outage work resumes.
 */
const OUTAGE_RETRY_MAX_MS = 2_000;

/** How a broker settles one delivery; each broker's consumer supplies its own. */
export interface Settle {
  ack(): void;
  /** Hands the delivery back to its queue, to be delivered again with `redelivered` set. */
  requeue(): void;
}

export interface DeliveryPolicy {
  handler: MessageHandler;
  bus: Pick<Bus, "deadLetter">;
  log: Logger;
  maxAttempts: number;
  retryDelayMs: number;
  /** The queue, named in logs and in the dead letter's x-dead-letter-queue header. */
  queue(): string;
}

export interface Delivery {
  /** Runs one delivery through the policy; it counts as in flight until settled. */
  deliver(message: BusMessage, settle: Settle): void;
  /** From now on a failed delivery goes straight back, without a backoff to sit out or a warning per message. */
  stop(): void;
  /** Resolves once no delivery is in flight. */
  idle(): Promise<void>;
}

/**
 * The manual-ack policy every UMOS consumer follows, whatever the broker: ack after the handler's
 * side effects; a permanent failure (an UmosError that is not retryable) is dead-lettered with its
 * reason and acked; an UnavailableError (a dependency is down) is requeued after a backoff for as
 * long as the outage lasts; any other failure is requeued after a backoff, and dead-lettered once
 * it failed `maxAttempts` times, so nothing loops forever.
 */
export function createDelivery(policy: DeliveryPolicy): Delivery {
  const { handler, bus, log } = policy;
  const attempts = new Map<string, number>();
  // Consecutive failures because a dependency was down; the next success ends the outage.
  let outage = 0;
  let stopping = false;
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];

  async function fail(message: BusMessage, settle: Settle, err: unknown): Promise<void> {
    const permanent = isPermanent(err);
    if (!permanent && stopping) return settle.requeue();
    const queue = policy.queue();
    // A dependency that is down (database, broker) is no fault of the message: the delivery waits
    // the outage out without spending its attempts. Counted, a 20 s database outage dead-lettered
    // everything the uplink held as gave_up (fault suite, tests/faults).
    if (err instanceof UnavailableError) {
      if (outage++ === 0) log.warn("a dependency is unavailable; deliveries wait for it", { queue, err: describe(err) });
      await Bun.sleep(backoffDelay(Math.min(outage, 16), policy.retryDelayMs, OUTAGE_RETRY_MAX_MS));
      return settle.requeue();
    }
    const key = attemptKey(message);
    const count = (attempts.get(key) ?? 0) + 1;
    if (permanent || count >= policy.maxAttempts) {
      attempts.delete(key);
      const code = permanent ? err.code : "gave_up";
      const reason = permanent ? err.message : `failed ${count} times, last: ${describe(err)}`;
      try {
        await bus.deadLetter(message, code, reason, queue);
        settle.ack();
        log.warn("dead-lettered", { queue, routingKey: message.routingKey, code, reason });
      } catch (dlErr) {
        log.error("could not dead-letter; requeueing", { err: dlErr });
        settle.requeue();
      }
      return;
    }
    attempts.set(key, count);
    if (attempts.size > 10_000) attempts.delete(attempts.keys().next().value!);
    log.warn("handler failed; requeueing", { queue, attempt: count, err: describe(err) });
    await Bun.sleep(backoffDelay(count, policy.retryDelayMs, 5_000));
    settle.requeue();
  }

  async function run(message: BusMessage, settle: Settle): Promise<void> {
    try {
      await handler(message);
      settle.ack();
      if (outage > 0) {
        outage = 0;
        log.info("dependency back; deliveries flow again", { queue: policy.queue() });
      }
      if (message.redelivered) attempts.delete(attemptKey(message));
    } catch (err) {
      await fail(message, settle, err);
    }
  }

  return {
    deliver(message, settle) {
      inFlight++;
      void run(message, settle).finally(() => {
        if (--inFlight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      });
    },
    stop() {
      stopping = true;
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}

/** The dead letter's copy of `message`: its metadata, plus why and where it died (docs/interfaces.md, Dead-letter headers). */
export function deadLetterOptions(message: BusMessage, code: string, reason: string, queue: string): PublishOptions {
  return {
    messageId: message.messageId,
    contentType: message.contentType,
    headers: {
      ...message.headers,
      [HEADERS.deadLetterCode]: code,
      [HEADERS.deadLetterReason]: reason.slice(0, 1024),
      [HEADERS.deadLetterQueue]: queue,
    },
  };
}

function attemptKey(message: BusMessage): string {
  return message.messageId ?? `${message.routingKey}:${Bun.hash(message.body)}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
