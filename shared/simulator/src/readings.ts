/** A number that wanders within its range, like a sensor's reading over time. */
export interface Drifting {
  min: number;
  max: number;
  /** Largest change per step. */
  step: number;
  /** Decimal places kept. */
  decimals: number;
}

/** A property table whose numeric entries drift at each `next()`; the others stay as last set. */
export function readings(initial: Record<string, unknown>, drifting: Record<string, Drifting>, random: () => number = Math.random) {
  const values: Record<string, unknown> = { ...initial };
  return {
    values,
    /** Moves every drifting value one step and returns a copy of all values. */
    next(): Record<string, unknown> {
      for (const [name, d] of Object.entries(drifting)) {
        const current = typeof values[name] === "number" ? (values[name] as number) : (d.min + d.max) / 2;
        const moved = Math.min(d.max, Math.max(d.min, current + (random() * 2 - 1) * d.step));
        values[name] = Number(moved.toFixed(d.decimals));
      }
      return { ...values };
    },
    /** Takes values set from the cloud. */
    set(changes: Record<string, unknown>): void {
      Object.assign(values, changes);
    },
  };
}

/** Message ids unique per device across restarts: the uplink deduplicates on them (docs/guarantees.md). */
export function messageIds(): () => string {
  const boot = Date.now().toString(36);
  let seq = 0;
  return () => `${boot}-${(seq++).toString(36)}`;
}
