import { describe, expect, test } from "bun:test";
import { InvalidInputError, UnavailableError, silentLogger } from "@umos/core";
import { createPointBuffer, type PointBufferOptions } from "./point-buffer";

const options = (overrides: Partial<PointBufferOptions> = {}): PointBufferOptions => ({
  batchSize: 100,
  maxBatchMessages: 100,
  flushIntervalMs: 5,
  maxBufferedPoints: 1000,
  retryInitialMs: 1,
  retryMaxMs: 5,
  maxHoldMs: 60_000,
  ...overrides,
});

/** A time-series server as the buffer sees it: it accepts or refuses each write, and we record what it accepted. */
function server() {
  const state = { down: false, attempts: 0, accepted: [] as string[][] };
  const write = async (points: string[]) => {
    state.attempts++;
    if (state.down) throw new UnavailableError("connection refused");
    if (points.includes("bad")) throw new InvalidInputError("points_refused", "field type conflict");
    state.accepted.push(points);
  };
  return { state, write };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await Bun.sleep(1);
}

const settledState = (promise: Promise<unknown>) => {
  const seen = { settled: false };
  promise.then(
    () => (seen.settled = true),
    () => (seen.settled = true),
  );
  return seen;
};

describe("batching", () => {
  test("reports added together share one write, and each resolves once it was written", async () => {
    const { state, write } = server();
    const buffer = createPointBuffer(write, options(), silentLogger);
    await Promise.all([buffer.add(["a"]), buffer.add(["b", "c"]), buffer.add(["d"])]);
    expect(state.accepted).toEqual([["a", "b", "c", "d"]]);
  });

  test("a full batch goes at once, by points or by reports, without waiting for the flush interval", async () => {
    const { state, write } = server();
    const byPoints = createPointBuffer(write, options({ batchSize: 2, flushIntervalMs: 3_600_000 }), silentLogger);
    await Promise.all([byPoints.add(["a"]), byPoints.add(["b"])]);
    const byReports = createPointBuffer(write, options({ maxBatchMessages: 2, flushIntervalMs: 3_600_000 }), silentLogger);
    await Promise.all([byReports.add(["c"]), byReports.add(["d"])]);
    expect(state.accepted).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });
});

describe("outages", () => {
  test("while the server is down the reports stay pending; once it is back each point is written once", async () => {
    const { state, write } = server();
    state.down = true;
    const buffer = createPointBuffer(write, options(), silentLogger);
    const added = Promise.all([buffer.add(["a"]), buffer.add(["b"])]);
    const seen = settledState(added);
    await until(() => state.attempts >= 5);
    expect(seen.settled).toBe(false);
    state.down = false;
    await added;
    expect(state.accepted).toEqual([["a", "b"]]);
  });

  test("a report the server refuses for good fails alone; the rest of its batch is written", async () => {
    const { state, write } = server();
    const buffer = createPointBuffer(write, options(), silentLogger);
    const results = await Promise.allSettled([buffer.add(["a"]), buffer.add(["bad"]), buffer.add(["c"])]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidInputError);
    expect(state.accepted).toEqual([["a"], ["c"]]);
  });

  test("the buffer is bounded: past maxBufferedPoints a report waits outside it, and gets in once there is room", async () => {
    const { state, write } = server();
    state.down = true;
    const buffer = createPointBuffer(write, options({ maxBufferedPoints: 2 }), silentLogger);
    const first = buffer.add(["a", "b"]);
    const second = buffer.add(["c"]);
    await until(() => state.attempts >= 3);
    state.down = false;
    await Promise.all([first, second]);
    expect(state.accepted).toEqual([["a", "b"], ["c"]]);
  });

  test("a report held past maxHoldMs is given back as retryable, so RabbitMQ redelivers it later", async () => {
    const { state, write } = server();
    state.down = true;
    const buffer = createPointBuffer(write, options({ maxHoldMs: 20 }), silentLogger);
    const failure = await buffer.add(["a"]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    buffer.close();
  });

  test("closing gives back what waits, as retryable, and refuses new reports", async () => {
    const { state, write } = server();
    state.down = true;
    const buffer = createPointBuffer(write, options(), silentLogger);
    const waiting = buffer.add(["a"]).catch((err: unknown) => err);
    await until(() => state.attempts >= 1);
    buffer.close();
    expect(await waiting).toBeInstanceOf(UnavailableError);
    expect(await buffer.add(["b"]).catch((err: unknown) => err)).toBeInstanceOf(UnavailableError);
  });
});
