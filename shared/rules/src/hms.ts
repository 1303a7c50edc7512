import { type Severity, severityRank } from "./definition";

/**
 * DJI health (HMS) without any rule (docs/alarms.md): a dock or aircraft pushes `hms` events whose
 * `list` holds what is wrong now, each item with a `code` and a `level` (0 notice, 1 caution,
 * 2 warning; DJI Cloud API, HMS). Each code is its own alarm; a code missing from a later list has
 * cleared.
 */
export const HMS_EVENT = "hms";
export const HMS_SOURCE_PREFIX = "dji.hms:";
const LEVELS: Record<number, Severity> = { 0: "warning", 1: "major", 2: "critical" };

export interface HmsItem {
  code: string;
  severity: Severity;
  /** The item as the device sent it, for the alarm's details. */
  item: Record<string, unknown>;
}

/** The items of an `hms` event's data that can be read; anything else in the list is skipped. */
export function hmsItems(data: unknown): HmsItem[] {
  const list = data && typeof data === "object" ? (data as { list?: unknown }).list : undefined;
  if (!Array.isArray(list)) return [];
  const seen = new Map<string, HmsItem>();
  for (const item of list.slice(0, 256)) {
    if (!item || typeof item !== "object") continue;
    const { code, level } = item as { code?: unknown; level?: unknown };
    if (typeof code !== "string" || code.length === 0 || code.length > 64) continue;
    const severity = LEVELS[typeof level === "number" ? level : -1] ?? "warning";
    // A code can be listed once per component (`args`): the alarm is at the worst of them.
    const held = seen.get(code);
    if (!held || severityRank(severity) > severityRank(held.severity)) seen.set(code, { code, severity, item: item as Record<string, unknown> });
  }
  return [...seen.values()];
}
