export interface BatchOptions {
  maxSize: number;
  /** How long the first item of a batch may wait for company. */
  maxWaitMs: number;
}

export interface Batcher<T, R> {
  /** Joins the current batch; resolves with the result of the flush that wrote it. */
  add(items: T[]): Promise<R>;
  /** Flushes what is waiting now. */
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

  function flushNow(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (groups.length === 0) return Promise.resolve();
    const batch = groups;
    groups = [];
    size = 0;
    const job = run(batch).finally(() => running.delete(job));
    running.add(job);
    return job;
  }

  return {
    add(items) {
      return new Promise<R>((resolve, reject) => {
        groups.push({ items, resolve, reject });
        size += items.length;
        if (size >= options.maxSize) void flushNow();
        else if (!timer) timer = setTimeout(() => void flushNow(), options.maxWaitMs);
      });
    },
    async flush() {
      await flushNow();
      await Promise.all(running);
    },
  };
}
