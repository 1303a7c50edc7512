import type { Vendor } from "@umos/contracts";
import type { Command } from "./commands";
import type { Sql } from "./database";

/** Jobs (docs/fleet.md): one operation over many devices, in waves, each device's attempt a command. */

export type JobStatus = "scheduled" | "running" | "paused" | "completed" | "cancelled" | "aborted";
export type ExecutionStatus = "pending" | "in_progress" | "succeeded" | "failed" | "timed_out" | "cancelled";
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["pending", "in_progress", "succeeded", "failed", "timed_out", "cancelled"];

export type JobTarget = { group: string } | { query: string } | { devices: string[] };
export type JobOperation =
  | { kind: "service"; service: string; params: Record<string, unknown> }
  | { kind: "property"; params: Record<string, unknown> }
  /** Each device gets the package of its vendor and thing model (or of its vendor alone) from `packages`. */
  | { kind: "firmware"; packages: string[] };

/** A wave takes a number of devices or a percentage of the job's; the last wave takes what is left. */
export type Wave = { devices: number } | { percent: number };

export interface Rollout {
  /** Commands sent per minute at most, paced over windows of 10 s. */
  ratePerMinute: number;
  /** Devices whose command is out at once, at most. */
  maxInFlight: number;
  waves: Wave[];
  /** The pause after a wave is done before the next starts. */
  waveGapMs: number;
  /** Stop the job once more than failurePercent of at least minFinished finished executions failed. */
  abort: { failurePercent: number; minFinished: number } | null;
  /** Each attempt's command timeout (and TTL). */
  timeoutMs: number;
  /** Attempts after the first, for an execution whose command failed, timed out or expired. */
  retries: number;
  retryDelayMs: number;
  /** How long a device offline at its turn waits before it is looked at again (until the deadline). */
  offlineRetryMs: number;
}

export interface Job {
  id: string;
  name: string;
  status: JobStatus;
  target: JobTarget;
  followNew: boolean;
  operation: JobOperation;
  rollout: Rollout;
  startAt: Date;
  deadlineAt: Date;
  /** A recurring job's cron expression (UTC): it starts a run of its own at each time; null for a single run. */
  cron: string | null;
  /** The recurring job this run was started by. */
  parentId: string | null;
  /** The wave being rolled out (0-based) of `waves`. */
  wave: number;
  waves: number;
  reason: string | null;
  createdBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When its status, wave or reason last changed: an older progress event is stale. */
  updatedAt: Date;
  /** Executions per status. */
  counts: Record<ExecutionStatus, number>;
}

export type NewJob = Pick<Job, "id" | "name" | "target" | "followNew" | "operation" | "rollout" | "startAt" | "deadlineAt" | "createdBy"> & {
  /** Recurring: each run starts at the next time this names after `startAt`, and lasts until its start + (deadlineAt - startAt). */
  cron?: string;
};

export interface Execution {
  deviceId: string;
  wave: number;
  status: ExecutionStatus;
  attempts: number;
  /** A firmware update's last reported progress, 0-100. */
  progress: number | null;
  commandId: string | null;
  nextAttemptAt: Date | null;
  reason: string | null;
  updatedAt: Date;
}

/** A job's turn as the runner left it: the commands to send now, and whether anything changed. */
export interface Turn {
  job: Job;
  commands: Command[];
  changed: boolean;
}

/** The command a device's turn sends; for a firmware update, the version it must then report. */
export interface PreparedCommand {
  kind: string;
  service: string | null;
  params: Record<string, unknown>;
  expectVersion?: string;
}

/**
 * What a device is sent for the operation, or why it cannot take it (its thing model refuses the
 * call, no firmware package fits it): iot-downlink's, which knows the models and the vendors' drivers.
 */
export type PrepareCommand = (
  device: { id: string; vendor: Vendor; modelId: string | null; modelVersion: number | null; firmwareVersion: string | null },
  operation: JobOperation,
  /** The turn's transaction: what the preparer reads, it reads through this (one connection may be all there is). */
  sql: Sql,
) => Promise<PreparedCommand | { refused: string } | { done: string }>;

export const jobColumns = (sql: Sql) => sql`
  j.id, j.name, j.status, j.target, j.follow_new as "followNew", j.operation, j.rollout, j.start_at as "startAt",
  j.deadline_at as "deadlineAt", j.cron, j.parent_id as "parentId", j.wave, j.waves, j.reason, j.created_by as "createdBy", j.created_at as "createdAt",
  j.started_at as "startedAt", j.finished_at as "finishedAt", j.updated_at as "updatedAt",
  (select coalesce(jsonb_object_agg(s.status, s.n), '{}') from
    (select status, count(*)::int as n from job_executions e where e.job_id = j.id group by status) s) as counts`;

export type JobRow = Omit<Job, "counts"> & { counts: Partial<Record<ExecutionStatus, number>> };
export const toJob = (row: JobRow): Job => ({
  ...row,
  counts: Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, row.counts[s] ?? 0])) as Record<ExecutionStatus, number>,
});
