import type { Clock } from "@umos/core";

export interface ManualClock extends Clock {
  /** Moves the time forward (or back, with a negative step). */
  advance(ms: number): void;
}

/** A clock that stands still until the test moves it. */
export function manualClock(start = Date.now()): ManualClock {
  let time = start;
  return {
    now: () => time,
    advance(ms) {
      time += ms;
    },
  };
}
