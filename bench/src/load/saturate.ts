import { startUsage, type ProcessUsage, type WatchedProcess } from "../stats/process-usage";
import { waitUntil, type Path } from "./path";

export interface SaturationOptions {
  /** Messages sent and not yet arrived, at most: a closed loop, so no queue grows without bound. */
  window: number;
  warmupSeconds: number;
  seconds: number;
  processes: readonly WatchedProcess[];
  /**
   * Counters of the far end (a service's metrics, a queue's depth) read when the measured seconds
   * start and end: the phase reports what each grew by over the same seconds as the CPU.
   */
  counters?: () => Promise<Record<string, number>>;
}

export interface SaturationResult {
  /** Arrivals per second over the measured seconds. */
  throughput: number;
  messages: number;
  seconds: number;
  usage: Record<string, ProcessUsage>;
  /** Messages that had not arrived 30 s after sending stopped (0 on an at-least-once path). */
  missing: number;
  /** What each of `counters` grew by over the measured seconds. */
  counts?: Record<string, number>;
}

/**
 * The highest rate a path sustains: keeps `window` messages in flight end to end, counts arrivals
 * after a warm-up, and reads CPU over the same span so CPU per message is the cost at full load.
 */
export async function saturate(path: Path, options: SaturationOptions): Promise<SaturationResult> {
  let sent = 0;
  let arrived = 0;
  let sending = true;
  path.arrived = () => {
    arrived++;
    if (sending && sent - arrived < options.window) path.send(sent++, performance.now());
  };
  while (sent < options.window) path.send(sent++, performance.now());

  await Bun.sleep(options.warmupSeconds * 1000);
  const countedBefore = await options.counters?.();
  const usage = startUsage(options.processes);
  const from = arrived;
  const started = performance.now();
  await Bun.sleep(options.seconds * 1000);
  const messages = arrived - from;
  const seconds = (performance.now() - started) / 1000;
  const used = usage.stop(messages);
  const countedAfter = await options.counters?.();
  sending = false;
  await waitUntil(() => arrived >= sent, 30_000);
  const result: SaturationResult = { throughput: messages / seconds, messages, seconds, usage: used, missing: Math.max(0, sent - arrived) };
  if (countedBefore && countedAfter) result.counts = growth(countedBefore, countedAfter);
  return result;
}

/** What each counter grew by between two readings. */
export function growth(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, value - (before[name] ?? 0)]));
}
