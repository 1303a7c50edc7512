import type { LatencySummary } from "./stats/latency";
import type { ProcessUsage } from "./stats/process-usage";

/** One measured phase of a scenario: at full load (`throughput`) or at an offered rate (`latency`). */
export interface PhaseResult {
  /** Messages (or requests) per second the path sustained. */
  throughput?: number;
  /** The throughput of every round when the phase ran several (it reports the median round). */
  rounds?: number[];
  /** The rate offered in a paced phase. */
  offeredRate?: number;
  /** Messages the CPU figures are divided by. */
  messages: number;
  latency?: LatencySummary;
  usage: Record<string, ProcessUsage>;
  /** Messages that never arrived; an at-least-once path has none. */
  missing?: number;
  /** What else the phase counted, named (clients connected, for the fan-out). */
  counts?: Record<string, number>;
  /** Figures of other processes on the same path, named: their rate and CPU per event beside the phase's. */
  figures?: Record<string, number>;
}

export interface ScenarioResult {
  id: string;
  title: string;
  phases: Record<string, PhaseResult>;
}

export interface BenchRun {
  mode: "full" | "ci";
  startedAt: string;
  machine: Record<string, string>;
  scenarios: ScenarioResult[];
}

/** How long and how hard: `bun run bench` measures longer; `bench:ci` fits under three minutes. */
export interface Profile {
  mode: "full" | "ci";
  warmupSeconds: number;
  seconds: number;
  /** Messages in flight end to end while saturating a path (the gateway's Receive Maximum is 1,024). */
  window: number;
  /** Saturation rounds of each relay, taken in turns. */
  rounds: number;
}

export const PROFILES: Record<Profile["mode"], Profile> = {
  full: { mode: "full", warmupSeconds: 2, seconds: 10, window: 1000, rounds: 5 },
  ci: { mode: "ci", warmupSeconds: 1, seconds: 5, window: 1000, rounds: 3 },
};
