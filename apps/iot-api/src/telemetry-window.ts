import { LATEST_TIMESTAMP_MS } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";

export interface WindowLimits {
  /** Windows one answer may hold. */
  maxPoints: number;
  maxRangeMs: number;
}

export interface WindowRequest {
  from?: string;
  to?: string;
  every?: string;
}

export interface ResolvedWindow {
  fromMs: number;
  toMs: number;
  everyMs: number;
  every: string;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** Window sizes chosen when `every` is omitted: the smallest giving at most DEFAULT_WINDOWS windows. */
const LADDER = ["1s", "5s", "10s", "30s", "1m", "5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d", "7d"];
const DEFAULT_WINDOWS = 300;
const DEFAULT_RANGE_MS = UNIT_MS.h;

/**
 * The time range and window size of a telemetry query: `to` defaults to now, `from` to an hour
 * before `to`, `every` to a size giving at most 300 windows. Refuses what would make the
 * time-series server work through more than the limits allow, naming the way out.
 */
export function resolveWindow(request: WindowRequest, limits: WindowLimits, nowMs: number): ResolvedWindow {
  const toMs = request.to === undefined ? nowMs : instant("to", request.to);
  const fromMs = request.from === undefined ? toMs - DEFAULT_RANGE_MS : instant("from", request.from);
  if (fromMs >= toMs) throw new InvalidInputError("invalid_range", `from (${iso(fromMs)}) must be before to (${iso(toMs)})`);
  const rangeMs = toMs - fromMs;
  if (rangeMs > limits.maxRangeMs) {
    throw new InvalidInputError("range_too_long", `the range is ${days(rangeMs)} days; at most ${days(limits.maxRangeMs)} days (timeseries.maxQueryRangeDays)`);
  }
  const every = request.every ?? LADDER.find((size) => rangeMs / durationMs(size) <= DEFAULT_WINDOWS) ?? LADDER[LADDER.length - 1]!;
  const everyMs = durationMs(every);
  if (everyMs <= 0) throw new InvalidInputError("invalid_every", `every must be longer than 0 (got '${every}')`);
  // +1: windows are aligned to multiples of every, so the range may touch one more than it spans.
  const windows = Math.ceil(rangeMs / everyMs) + 1;
  if (windows > limits.maxPoints) {
    throw new InvalidInputError(
      "too_many_points",
      `every=${every} gives up to ${windows} windows over this range; at most ${limits.maxPoints}: choose a larger every or a shorter range`,
    );
  }
  return { fromMs, toMs, everyMs, every };
}

/** `90s`, `5m`, `1d`: an integer and one of InfluxQL's duration units (ms, s, m, h, d, w). */
export const DURATION_PATTERN = "^[0-9]{1,9}(ms|s|m|h|d|w)$";

function durationMs(duration: string): number {
  const [, count, unit] = /^([0-9]+)(ms|s|m|h|d|w)$/.exec(duration)!;
  return Number(count) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

/** An RFC 3339 date-time, or ms since the epoch, within what the time series can hold (1970 to 2262). */
export function instant(name: string, value: string): number {
  const ms = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidInputError("invalid_time", `${name}: '${value}' is neither an RFC 3339 date-time nor ms since the epoch`);
  if (ms < 0 || ms > LATEST_TIMESTAMP_MS)
    throw new InvalidInputError("invalid_time", `${name}: '${value}' is outside 1970-01-01 to ${iso(LATEST_TIMESTAMP_MS)}`);
  return ms;
}

const iso = (ms: number) => new Date(ms).toISOString();
const days = (ms: number) => Math.round((ms / UNIT_MS.d) * 10) / 10;
