export interface BatchOptions {
  maxSize: number;
  /** How long the first item of a batch may wait for company. */
  maxWaitMs: number;
  /**
   * Writes running at once. Past it, items wait for a write to finish and then go together, up to
   * `maxSize`: when writes slow down, batches grow instead of queueing as many small transactions
   * that contend for the same rows. Default: no bound.
   */
  maxInFlight?: number;
}

export interface Batcher<T, R> {
  /** Joins the current batch; resolves with the result of the flush that wrote it. */
  add(items: T[]): Promise<R>;
  /** Writes everything waiting now, and resolves once every write has finished. */
  flush(): Promise<void>;
}

interface Group<T, R> {
  items: T[];
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Gathers concurrent writes into one, since per-message round trips dominate the cost at load
 * (docs/findings.md: batch work per event-loop turn). If a batch fails, each caller's items are written
 * alone, so one bad message fails only its own caller.
 */
export function createBatcher<T, R>(write: (items: T[]) => Promise<R>, options: BatchOptions): Batcher<T, R> {
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  let groups: Group<T, R>[] = [];
  let size = 0;
  let timer: Timer | undefined;
  const running = new Set<Promise<void>>();

  async function run(batch: Group<T, R>[]): Promise<void> {
    try {
      const result = await write(batch.flatMap((g) => g.items));
      for (const g of batch) g.resolve(result);
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await Promise.all(
        batch.map(async (g) => {
          try {
            g.resolve(await write(g.items));
          } catch (own) {
            g.reject(own);
          }
        }),
      );
    }
  }

  /** The oldest groups, up to maxSize items (a larger group goes alone). */
  function take(): Group<T, R>[] {
    let count = groups[0]!.items.length;
    let n = 1;
    while (n < groups.length && count + groups[n]!.items.length <= options.maxSize) count += groups[n++]!.items.length;
    size -= count;
    const batch = groups.slice(0, n);
    groups = groups.slice(n);
    return batch;
  }

  /** Starts writes of what is waiting, as many as may run; a finished write starts the next. */
  function start(): void {
    clearTimeout(timer);
    timer = undefined;
    while (groups.length > 0 && running.size < maxInFlight) {
      const job: Promise<void> = run(take()).finally(() => {
        running.delete(job);
        if (groups.length > 0) start();
      });
      running.add(job);
    }
  }

  return {
    add(items) {
      return new Promise<R>((resolve, reject) => {
        groups.push({ items, resolve, reject });
        size += items.length;
        if (size >= options.maxSize) start();
        else if (!timer && running.size < maxInFlight) timer = setTimeout(start, options.maxWaitMs);
      });
    },
    async flush() {
      while (groups.length > 0 || running.size > 0) {
        start();
        await Promise.all(running);
      }
    },
  };
}
