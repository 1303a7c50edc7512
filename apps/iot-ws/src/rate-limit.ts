/**
 * A token bucket: `perSecond` messages a second on average, bursts up to the same number.
 * `take()` is false once the client sends faster than that.
 */
export function tokenBucket(perSecond: number, now: () => number = Date.now) {
  let tokens = perSecond;
  let last = now();
  return {
    take(): boolean {
      const t = now();
      tokens = Math.min(perSecond, tokens + ((t - last) / 1000) * perSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
