import { latencyRecorder, type LatencySummary } from "../stats/latency";
import { startUsage, type ProcessUsage, type WatchedProcess } from "../stats/process-usage";
import { waitUntil, type Path } from "./path";
import { growth } from "./saturate";

export interface PacedOptions {
  /** Messages per second, offered whatever the path does (an open loop). */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  processes: readonly WatchedProcess[];
  /** The messages whose arrival the path reports, when it watches a sample only (default: all). */
  tracked?: (seq: number) => boolean;
  /** Counters of the far end, read when the measured messages start and once they have all arrived (as saturate reads them). */
  counters?: () => Promise<Record<string, number>>;
}

export interface PacedResult {
  offeredRate: number;
  messages: number;
  latency: LatencySummary;
  usage: Record<string, ProcessUsage>;
  missing: number;
  /** What each of `counters` grew by over the measured messages. */
  counts?: Record<string, number>;
}

/**
 * Latency at a fixed rate. Each message is stamped with the time it was due, not the time it left,
 * so a stall delays the stamps of everything behind it and shows in the tail (no coordinated
 * omission). Latencies of the warm-up are not recorded; CPU is read over the measured seconds.
 */
export async function pace(path: Path, options: PacedOptions): Promise<PacedResult> {
  const latency = latencyRecorder();
  const intervalMs = 1000 / options.rate;
  const start = performance.now();
  const measureFrom = start + options.warmupSeconds * 1000;
  const total = Math.round(options.rate * (options.warmupSeconds + options.seconds));
  const tracked = options.tracked ?? (() => true);
  let sent = 0;
  let expected = 0;
  let arrived = 0;
  path.arrived = (stamp, at = performance.now()) => {
    arrived++;
    if (stamp >= measureFrom) latency.record(at - stamp);
  };

  const firstMeasured = Math.round(options.rate * options.warmupSeconds);
  let countedBefore: Promise<Record<string, number>> | undefined;
  const usage = await new Promise<ReturnType<typeof startUsage>>((resolve) => {
    let reading: ReturnType<typeof startUsage> | undefined;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due) {
        if (sent === firstMeasured) {
          reading = startUsage(options.processes);
          countedBefore = options.counters?.();
        }
        path.send(sent, start + sent * intervalMs);
        if (tracked(sent)) expected++;
        sent++;
      }
      if (sent === total) {
        clearInterval(timer);
        resolve(reading ?? startUsage(options.processes));
      }
    }, 1);
  });
  await waitUntil(() => arrived >= expected, 30_000);
  const measured = total - firstMeasured;
  const result: PacedResult = {
    offeredRate: options.rate,
    messages: measured,
    latency: latency.summary(),
    usage: usage.stop(measured),
    missing: Math.max(0, expected - arrived),
  };
  const countedAfter = await options.counters?.();
  if (countedBefore && countedAfter) result.counts = growth(await countedBefore, countedAfter);
  return result;
}
