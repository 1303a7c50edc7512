import { describe, expect, test } from "bun:test";
import { createBatcher } from "./batcher";

describe("write batcher", () => {
  test("concurrent adds within the wait share one write", async () => {
    const writes: number[][] = [];
    const batcher = createBatcher(async (items: number[]) => void writes.push(items), { maxSize: 100, maxWaitMs: 5 });
    await Promise.all([batcher.add([1]), batcher.add([2, 3]), batcher.add([4])]);
    expect(writes).toEqual([[1, 2, 3, 4]]);
  });

  test("a full batch is written at once, without waiting", async () => {
    const writes: number[][] = [];
    const batcher = createBatcher(async (items: number[]) => void writes.push(items), { maxSize: 2, maxWaitMs: 60_000 });
    await Promise.all([batcher.add([1]), batcher.add([2])]);
    expect(writes).toEqual([[1, 2]]);
  });

  test("past maxInFlight, adds wait for a running write and then go together, up to maxSize", async () => {
    const writes: number[][] = [];
    const finish: (() => void)[] = [];
    const batcher = createBatcher(
      (items: number[]) => {
        writes.push(items);
        return new Promise<void>((resolve) => finish.push(resolve));
      },
      { maxSize: 3, maxWaitMs: 0, maxInFlight: 1 },
    );
    const first = batcher.add([1]);
    await Bun.sleep(5);
    const rest = [batcher.add([2]), batcher.add([3, 4]), batcher.add([5]), batcher.add([6])];
    await Bun.sleep(5);
    expect(writes).toEqual([[1]]);
    finish.shift()!();
    await first;
    await Bun.sleep(0);
    expect(writes).toEqual([[1], [2, 3, 4]]);
    finish.shift()!();
    await Bun.sleep(0);
    expect(writes).toEqual([[1], [2, 3, 4], [5, 6]]);
    finish.shift()!();
    await Promise.all(rest);
  });

  test("flush resolves once every waiting and running write has finished", async () => {
    const written: number[] = [];
    const batcher = createBatcher(
      async (items: number[]) => {
        await Bun.sleep(5);
        written.push(...items);
      },
      { maxSize: 2, maxWaitMs: 60_000, maxInFlight: 1 },
    );
    const adds = [1, 2, 3, 4, 5].map((n) => batcher.add([n]));
    await batcher.flush();
    expect(written).toEqual([1, 2, 3, 4, 5]);
    await Promise.all(adds);
  });

  test("a failing batch is split, so only the bad caller fails", async () => {
    const batcher = createBatcher(
      async (items: number[]) => {
        if (items.includes(13)) throw new Error("row 13 is bad");
        return items.length;
      },
      { maxSize: 100, maxWaitMs: 5 },
    );
    const results = await Promise.allSettled([batcher.add([1]), batcher.add([13]), batcher.add([2, 3])]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[2] as PromiseFulfilledResult<number>).value).toBe(2);
  });
});
