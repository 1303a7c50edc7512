/**
 * One way messages travel, as a phase drives it: `send` puts message `seq` on its way stamped with
 * `stamp` (performance.now() of this process, in ms); the path calls `arrived(stamp)` when the far
 * end got it, or `arrived(stamp, at)` when it learnt of an arrival later than it happened. Sender and
 * receiver are both in the bench process, so one clock serves both ends.
 */
export interface Path {
  send(seq: number, stamp: number): void;
  arrived: (stamp: number, at?: number) => void;
}

/** Resolves once `done()` holds, polling every few milliseconds; false if it did not within `timeoutMs`. */
export async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(5);
  }
  return true;
}
