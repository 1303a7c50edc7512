import type { Severity } from "@umos/rules";

/** What a channel can be notified of (docs/notifications.md, Triggers). */
export const TRIGGERS = [
  "alarm.raised",
  "alarm.escalated",
  "alarm.acknowledged",
  "alarm.cleared",
  "device.offline",
  "command.failed",
  "command.timeout",
] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** The alarm as a notification carries it: the fields people act on, times as ISO 8601 text. */
export interface NotifiedAlarm {
  id: string;
  type: string;
  source: string;
  severity: Severity;
  status: string;
  acknowledged: boolean;
  acknowledgedBy: string | null;
  assignee: string | null;
  startedAt: string;
  endedAt: string | null;
  occurrences: number;
  details: Record<string, unknown>;
}

export interface NotifiedCommand {
  id: string;
  status: string;
  reason: string | null;
}

/**
 * One notification: the body of a `json` webhook and the fields templates read. `id` is the event's
 * id, the same on every retry, redelivery and replay, so a receiver can drop repeats.
 */
export interface Notification {
  id: string;
  /** `test` only for POST /notification-channels/:id/test. */
  trigger: Trigger | "test";
  /** When the event happened, ISO 8601. */
  at: string;
  vendor: string;
  /** null: a platform alarm, which concerns no device. */
  deviceId: string | null;
  /** Who acknowledged or cleared the alarm; null when UMOS did. */
  by: string | null;
  /** One line for people: the default text of Slack, Teams and email. */
  summary: string;
  alarm?: NotifiedAlarm;
  command?: NotifiedCommand;
}

/** The fields a template may start a placeholder with (`{{alarm.severity}}`); anything else is refused when a channel is saved. */
export const TEMPLATE_ROOTS: readonly string[] = ["id", "trigger", "at", "vendor", "deviceId", "by", "summary", "alarm", "command"];

/** The one line of `summary`, built from the rest. */
export function summarize(n: Omit<Notification, "summary">): string {
  const where = n.deviceId ? `on ${n.deviceId}` : "on the platform";
  const alarm = `alarm ${n.alarm?.type} ${where}`;
  const severity = n.alarm?.severity;
  const by = n.by ? ` by ${n.by}` : "";
  switch (n.trigger) {
    case "alarm.raised":
      return `${severity} ${alarm} raised`;
    case "alarm.escalated":
      return `${alarm} escalated to ${severity}`;
    case "alarm.acknowledged":
      return `${severity} ${alarm} acknowledged${by}`;
    case "alarm.cleared":
      return `${severity} ${alarm} cleared${by}`;
    case "device.offline":
      return `device ${n.deviceId} went offline`;
    case "command.failed":
      return `command ${n.command?.id} to ${n.deviceId} failed${n.command?.reason ? `: ${n.command.reason}` : ""}`;
    case "command.timeout":
      return `command ${n.command?.id} to ${n.deviceId} timed out`;
    case "test":
      return "UMOS test notification: this channel works";
  }
}
