import type { Alarm, AlarmSummary, Rule, Severity } from "./api";

/** Worst first: the order of the alarm list, and which colour the badge takes. */
export const SEVERITIES: readonly Severity[] = ["critical", "major", "minor", "warning"];

/** The kinds of alarm events on the WebSocket (`iot.{vendor}.event.alarm.{raised|updated|cleared}`, docs/alarms.md). */
export const ALARM_KINDS = ["alarm.raised", "alarm.updated", "alarm.cleared"];

/** The alarms page's filter: a status, and the least severe alarm shown. */
export interface AlarmFilter {
  status: "active" | "cleared" | "all";
  atLeast: Severity;
}

const rank = (severity: Severity) => SEVERITIES.indexOf(severity);

/**
 * GET /api/v1/alarms queries for a filter. The API pages by start time, so "all" asks for active and
 * cleared alarms apart: the active ones come first however many cleared ones there are.
 */
export function alarmQueries(filter: AlarmFilter): URLSearchParams[] {
  const statuses = filter.status === "all" ? ["active", "cleared"] : [filter.status];
  const severities = filter.atLeast === "warning" ? [] : SEVERITIES.slice(0, rank(filter.atLeast) + 1);
  return statuses.map((status) => new URLSearchParams([["status", status], ...severities.map((s) => ["severity", s])]));
}

export const matchesFilter = (alarm: Alarm, filter: AlarmFilter) =>
  (filter.status === "all" || alarm.status === filter.status) && rank(alarm.severity) <= rank(filter.atLeast);

/** Active first, then the most severe, then the latest started. */
export function compareAlarms(a: Alarm, b: Alarm): number {
  if (a.status !== b.status) return a.status === "active" ? -1 : 1;
  return rank(a.severity) - rank(b.severity) || Date.parse(b.startedAt) - Date.parse(a.startedAt);
}

/**
 * The list once an alarm changed: the alarm replaces the one held or joins the list where the filter
 * takes it, and leaves it where the filter no longer does. A state older than the one held is
 * ignored: an event can arrive after the answer to the action that caused a later one.
 */
export function withAlarm(list: readonly Alarm[], alarm: Alarm, filter?: AlarmFilter): Alarm[] {
  const held = list.find((a) => a.id === alarm.id);
  if (held && Date.parse(held.updatedAt) > Date.parse(alarm.updatedAt)) return [...list];
  const others = list.filter((a) => a.id !== alarm.id);
  if (filter && !matchesFilter(alarm, filter)) return others;
  return [...others, alarm].sort(compareAlarms);
}

/** The header's badge: how many alarms are active, in the colour of the worst, and the counts behind it. */
export function alarmBadge(summary: AlarmSummary): { count: number; worst: Severity | null; text: string; title: string } {
  const counted = SEVERITIES.map((s) => [s, summary.active[s] ?? 0] as const).filter(([, n]) => n > 0);
  const count = counted.reduce((sum, [, n]) => sum + n, 0);
  const per = counted.map(([s, n]) => `${n} ${s}`).join(", ");
  return {
    count,
    worst: counted[0]?.[0] ?? null,
    text: `${count} alarm${count === 1 ? "" : "s"}`,
    title: count === 0 ? "no active alarms" : `active: ${per}; ${summary.unacknowledged} not acknowledged`,
  };
}

/** Who handles an alarm: "acknowledged by alice · assigned to bob", "not acknowledged". */
export function handling(alarm: Alarm): string {
  const parts = [alarm.acknowledged ? `acknowledged${alarm.acknowledgedBy ? ` by ${alarm.acknowledgedBy}` : ""}` : "not acknowledged"];
  if (alarm.assignee) parts.push(`assigned to ${alarm.assignee}`);
  if (alarm.status === "cleared") parts.push(`cleared${alarm.clearedBy ? ` by ${alarm.clearedBy}` : ""}`);
  return parts.join(" · ");
}

/** What a rule applies to: its thing model, or the devices it names (the first three). */
export function ruleScope({ model, devices }: Pick<Rule, "model" | "devices">): string {
  if (model !== null) return `model ${model}`;
  return `devices ${devices.length > 3 ? `${devices.slice(0, 3).join(", ")} and ${devices.length - 3} more` : devices.join(", ")}`;
}
