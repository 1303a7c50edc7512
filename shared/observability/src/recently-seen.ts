import type { Clock } from "@umos/core";

/** Past this many ids a sweep runs on the next sighting, so a flood of made-up device ids cannot grow memory. */
const SWEEP_AT = 200_000;

/**
 * Devices seen within a window, for `iot_devices_active` in services without the registry (the
 * gateway, iot-ws): one map write per message, counted and pruned only when scraped.
 */
export function recentlySeen(windowMs: number, clock: Clock) {
  const lastSeen = new Map<string, number>();
  function sweep(now: number): number {
    const cutoff = now - windowMs;
    for (const [id, at] of lastSeen) if (at < cutoff) lastSeen.delete(id);
    return lastSeen.size;
  }
  return {
    /** `now` when the caller already read the clock for this message. */
    seen(id: string, now = clock.now()): void {
      lastSeen.set(id, now);
      if (lastSeen.size > SWEEP_AT) sweep(now);
    },
    count: () => sweep(clock.now()),
  };
}
