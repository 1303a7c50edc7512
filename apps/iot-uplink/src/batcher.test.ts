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
