import type { Vendor } from "@umos/contracts";
import type { Sql } from "./database";

// An alarm as it is stored and passed around; the repository, the outbox and the rules read it here.

export type AlarmSeverity = "critical" | "major" | "minor" | "warning";
export type AlarmStatus = "active" | "cleared";
/** What happened to an alarm, as its events and notifications name it. */
export type AlarmChange = "raised" | "escalated" | "downgraded" | "occurred" | "acknowledged" | "assigned" | "commented" | "cleared";

export interface Alarm {
  id: string;
  /** null: a platform alarm (dead letters piling up). */
  deviceId: string | null;
  vendor: Vendor;
  /** `rule:<id>` or a built-in type (`dji.hms:<code>`, `platform.dead_letters`): one active alarm per device and source. */
  source: string;
  type: string;
  ruleId: string | null;
  ruleVersion: number | null;
  severity: AlarmSeverity;
  status: AlarmStatus;
  acknowledged: boolean;
  acknowledgedBy: string | null;
  acknowledgedAt: Date | null;
  assignee: string | null;
  startedAt: Date;
  lastSeenAt: Date;
  endedAt: Date | null;
  clearedBy: string | null;
  occurrences: number;
  details: Record<string, unknown>;
  updatedAt: Date;
}

/** An alarm row as the Alarm type names its fields. */
export const alarmColumns = (sql: Sql) => sql`
  id, device_id as "deviceId", vendor, source, type, rule_id as "ruleId", rule_version as "ruleVersion", severity, status,
  acknowledged, acknowledged_by as "acknowledgedBy", acknowledged_at as "acknowledgedAt", assignee, started_at as "startedAt",
  last_seen_at as "lastSeenAt", ended_at as "endedAt", cleared_by as "clearedBy", occurrences, details, updated_at as "updatedAt"`;
