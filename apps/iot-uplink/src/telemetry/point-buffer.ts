import { isPermanent, UnavailableError, backoffDelay, type Logger } from "@umos/core";

export interface PointBufferOptions {
  /** Points per write request. */
  batchSize: number;
  /** Reports per write request: no more can arrive before some are acked (the consumer's prefetch). */
  maxBatchMessages: number;
  /** How long a partial batch waits for company. */
  flushIntervalMs: number;
  /** Points held at most; a report past that waits for room (and RabbitMQ keeps the rest). */
  maxBufferedPoints: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** A report not accepted by then is given back (rejected), to be redelivered. */
  maxHoldMs: number;
}

export interface PointBuffer<P> {
  /**
   * Resolves once the server accepted these points, so the caller acks its message only then.
   * Rejects with the server's permanent refusal (an UmosError that is not retryable: dead letter),
   * or with UnavailableError once maxHoldMs passed or the buffer closed (back to the queue).
   */
  add(points: P[]): Promise<void>;
  /** Gives back every report still waiting and stops retrying; a write in flight finishes. Returns how many it gave back. */
  close(): number;
}

interface Entry<P> {
  points: P[];
  admitted: boolean;
  settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Batches points of many reports into few write requests: a full batch (batchSize points or
 * maxBatchMessages reports) is written at once, a partial one after flushIntervalMs. One write at a
 * time: a failed write is retried with exponential backoff, for as long as the server is down,
 * while its reports stay unacked; an outage delays data but loses none. A batch the server refuses
 * for good is written again report by report, so only the bad report fails.
 */
export function createPointBuffer<P>(write: (points: P[]) => Promise<void>, options: PointBufferOptions, log: Logger): PointBuffer<P> {
  let admitted: Entry<P>[] = [];
  let blocked: Entry<P>[] = [];
  /** Points of admitted reports not yet settled, the batch being written included. */
  let buffered = 0;
  let writing = false;
  let closed = false;
  let flushTimer: Timer | undefined;
  let outage: { since: number; failures: number; reason: string } | null = null;
  let wakeRetry: (() => void) | null = null;

  return {
    add(points) {
      if (closed) return Promise.reject(new UnavailableError("the telemetry writer is stopping; the report goes back to the queue"));
      if (points.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const hold = setTimeout(() => expire(entry), options.maxHoldMs);
        const entry: Entry<P> = {
          points,
          admitted: false,
          settled: false,
          resolve: () => {
            clearTimeout(hold);
            resolve();
          },
          reject: (err) => {
            clearTimeout(hold);
            reject(err);
          },
        };
        blocked.push(entry);
        admit();
        schedule();
      });
    },

    close() {
      closed = true;
      clearTimeout(flushTimer);
      wakeRetry?.();
      const waiting = [...admitted, ...blocked];
      admitted = [];
      blocked = [];
      for (const entry of waiting) settle(entry, new UnavailableError("the telemetry writer is stopping; the report goes back to the queue"));
      return waiting.length;
    },
  };

  /** Moves waiting reports into the buffer while there is room; one report always fits an empty buffer. */
  function admit(): void {
    while (blocked.length > 0 && (buffered === 0 || buffered + blocked[0]!.points.length <= options.maxBufferedPoints)) {
      const entry = blocked.shift()!;
      entry.admitted = true;
      buffered += entry.points.length;
      admitted.push(entry);
    }
  }

  function batchReady(): boolean {
    return buffered >= options.batchSize || admitted.length >= options.maxBatchMessages;
  }

  function schedule(): void {
    if (writing || closed || admitted.length === 0) return;
    if (batchReady()) void run();
    else flushTimer ??= setTimeout(() => void run(), options.flushIntervalMs);
  }

  async function run(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    writing = true;
    while (!closed && admitted.length > 0) {
      const batch = take();
      const failure = await writeBatch(batch);
      admit();
      if (failure === undefined) {
        recovered();
        if (!batchReady()) break;
        continue;
      }
      const unsettled = batch.filter((e) => !e.settled);
      if (closed) for (const entry of unsettled) settle(entry, new UnavailableError(`the telemetry writer stopped during an outage: ${describe(failure)}`));
      else {
        admitted.unshift(...unsettled);
        await pause(failure);
      }
    }
    writing = false;
    schedule();
  }

  function take(): Entry<P>[] {
    const batch: Entry<P>[] = [];
    let points = 0;
    while (admitted.length > 0 && batch.length < options.maxBatchMessages) {
      const next = admitted[0]!;
      if (batch.length > 0 && points + next.points.length > options.batchSize) break;
      batch.push(admitted.shift()!);
      points += next.points.length;
    }
    return batch;
  }

  /** Settles what the server decided on; returns the failure worth retrying, if any. */
  async function writeBatch(batch: Entry<P>[]): Promise<unknown> {
    try {
      await write(batch.flatMap((e) => e.points));
      for (const entry of batch) settle(entry);
      return undefined;
    } catch (err) {
      if (!isPermanent(err)) return err;
      if (batch.length === 1) return settle(batch[0]!, err);
    }
    for (const entry of batch) {
      if (entry.settled) continue;
      try {
        await write(entry.points);
        settle(entry);
      } catch (err) {
        if (!isPermanent(err)) return err;
        settle(entry, err);
      }
    }
    return undefined;
  }

  function settle(entry: Entry<P>, err?: unknown): undefined {
    if (entry.settled) return;
    entry.settled = true;
    if (entry.admitted) buffered -= entry.points.length;
    if (err === undefined) entry.resolve();
    else entry.reject(err);
  }

  /** Past maxHoldMs the report goes back to RabbitMQ, long before its consumer_timeout (30 min) would close the channel. */
  function expire(entry: Entry<P>): void {
    if (entry.settled) return;
    admitted = admitted.filter((e) => e !== entry);
    blocked = blocked.filter((e) => e !== entry);
    settle(
      entry,
      new UnavailableError(`the time-series server did not accept the report within timeseries.maxHoldMs (${options.maxHoldMs} ms); it goes back to the queue`),
    );
    admit();
  }

  async function pause(failure: unknown): Promise<void> {
    const reason = describe(failure);
    if (!outage || outage.reason !== reason) {
      log.warn("time-series write failed; holding the reports and retrying", { reason, heldPoints: buffered, waitingReports: blocked.length });
    }
    outage = { since: outage?.since ?? Date.now(), failures: (outage?.failures ?? 0) + 1, reason };
    const delayMs = backoffDelay(outage.failures, options.retryInitialMs, options.retryMaxMs);
    log.debug("retrying the time-series write", { attempt: outage.failures, delayMs });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), delayMs);
      const wake = () => {
        clearTimeout(timer);
        wakeRetry = null;
        resolve();
      };
      wakeRetry = wake;
    });
  }

  function recovered(): void {
    if (!outage) return;
    log.info("time-series server accepts writes again", { afterMs: Date.now() - outage.since, failedAttempts: outage.failures });
    outage = null;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
