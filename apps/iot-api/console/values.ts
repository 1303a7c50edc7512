/**
 * A report's numbers by dotted path, nested objects flattened to four levels, as the time series
 * names them (docs/telemetry.md: Points): `{battery: {capacity_percent: 87}}` is `battery.capacity_percent`.
 * Booleans count as 1 and 0, as they do there.
 */
export function numericValues(data: unknown, prefix = "", depth = 0, out: Record<string, number> = {}): Record<string, number> {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return out;
  for (const [key, value] of Object.entries(data)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "number" && Number.isFinite(value)) out[path] = value;
    else if (typeof value === "boolean") out[path] = value ? 1 : 0;
    else if (value !== null && typeof value === "object" && depth < 3) numericValues(value, path, depth + 1, out);
  }
  return out;
}

/** A value as a short line of text for a table cell. */
export const display = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value));

/** "12 s ago", "3 min ago", or the date for older times. */
export function ago(at: string | number | null, now = Date.now()): string {
  if (at === null) return "never";
  const ms = now - (typeof at === "number" ? at : Date.parse(at));
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  return new Date(at).toLocaleString();
}

/** An envelope's time in ms: a number on the WebSocket, an ISO date in the message log. */
export const millis = (ts: number | string): number => (typeof ts === "number" ? ts : Date.parse(ts));
