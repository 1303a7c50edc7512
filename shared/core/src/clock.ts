/**
 * Where a service reads the time of day from: the composition root passes the system clock, a test
 * one it moves itself, so expiry, windows and cache lifetimes are tested without waiting for them.
 * Log lines and spans keep the real time.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
