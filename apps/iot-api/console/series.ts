import type { Envelope, SeriesAnswer } from "./api";
import type { Series, Span } from "./chart";
import { millis, numericValues } from "./values";

/** The chart's ranges back from now, by the value of their radio button. */
const PRESETS: Record<string, number> = { "1h": 3_600_000, "6h": 21_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };

/** Properties one GET …/telemetry/series may name. */
export const MAX_PROPERTIES = 10;

/** A time range as the API takes it: RFC 3339, `to` exclusive. */
export interface Range {
  from: string;
  to: string;
}

/** The range a preset names, ending now; null for anything else (a custom range). */
export function presetRange(preset: string, nowMs: number): Range | null {
  const length = PRESETS[preset];
  return length === undefined ? null : { from: new Date(nowMs - length).toISOString(), to: new Date(nowMs).toISOString() };
}

/**
 * What an `<input type="datetime-local">` holds (`2025-06-15T14:30`, seconds optional), read in the
 * browser's time zone as the person typing it meant, as RFC 3339 in UTC; null when empty or invalid.
 */
export function localToRfc3339(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  // A date-time without an offset is local time to Date.parse (ECMA-262 Date Time String Format).
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** An RFC 3339 time as an `<input type="datetime-local">` shows it: local time, to the minute. */
export function localInput(rfc3339: string): string {
  const d = new Date(rfc3339);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${String(d.getFullYear()).padStart(4, "0")}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** The range two datetime-local inputs ask for, or null until both hold a time. */
export function customRange(fromLocal: string, toLocal: string): Range | null {
  const from = localToRfc3339(fromLocal);
  const to = localToRfc3339(toLocal);
  return from && to ? { from, to } : null;
}

/** The chart's series from an answer of GET …/telemetry/series: one per property asked, in that order, empty where it has no windows. */
export function answerSeries(answer: SeriesAnswer, properties: string[]): Series[] {
  const byName = new Map(answer.series.map((s) => [s.property, s.points]));
  return properties.map((property) => ({
    property,
    points: (byName.get(property) ?? []).map((p) => ({ ts: Date.parse(p.ts), value: p.value })).sort((a, b) => a.ts - b.ts),
  }));
}

/** The time span an answer covers, for the chart's time axis. */
export const answerSpan = (answer: SeriesAnswer): Span => ({ from: Date.parse(answer.from), to: Date.parse(answer.to) });

/** The chart's series from property reports of the message log (the fallback without a time series). */
export function reportSeries(reports: Envelope[], properties: string[]): Series[] {
  return properties.map((property) => ({
    property,
    points: reports.flatMap((m) => {
      const value = numericValues(m.data)[property];
      return value === undefined ? [] : [{ ts: millis(m.ts), value }];
    }),
  }));
}

/** What the chart shows, in a line under it: aggregate, window size and range, in local time. */
export function answerCaption(answer: SeriesAnswer, live: boolean): string {
  const at = (rfc3339: string) => new Date(rfc3339).toLocaleString();
  return `Time series (GET …/telemetry/series): ${answer.fn} per ${answer.every} from ${at(answer.from)} to ${at(answer.to)}${live ? ", then live values" : ""}.`;
}
