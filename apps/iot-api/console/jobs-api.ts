import { api } from "./api";

/** The jobs REST API (apps/iot-api/src/routes/jobs.ts) as the console uses it; times are RFC 3339. */

export type JobStatus = "scheduled" | "running" | "paused" | "completed" | "cancelled" | "aborted";
export type ExecutionStatus = "pending" | "in_progress" | "succeeded" | "failed" | "timed_out" | "cancelled";
export type JobTarget = { group: string } | { query: string } | { devices: string[] };
export type JobOperation =
  | { kind: "service"; service: string; params: Record<string, unknown> }
  | { kind: "property"; params: Record<string, unknown> }
  /** Package ids: each device gets the one of its vendor and model, else of its vendor for any model. */
  | { kind: "firmware"; packages: string[] };
export type Wave = { devices: number } | { percent: number };

/** What a `job.progress` event says of a job (iot-downlink's job runner), and what the list shows. */
export interface JobProgress {
  id: string;
  name: string;
  status: JobStatus;
  /** The wave being rolled out, from 0, of `waves`. */
  wave: number;
  waves: number;
  counts: Record<ExecutionStatus, number>;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** When its status, wave or reason last changed (RFC 3339, UTC). */
  updatedAt: string;
}

/** Whether `next` is not older than `shown`: an event computed before a pause or a cancel must not undo it on screen. */
export const notStale = (next: JobProgress, shown: JobProgress | undefined) => !shown || Date.parse(next.updatedAt) >= Date.parse(shown.updatedAt);

export interface Job extends JobProgress {
  target: JobTarget;
  followNew: boolean;
  operation: JobOperation;
  /** The parts the console shows. */
  rollout: { ratePerMinute: number; maxInFlight: number; waves: Wave[]; abort: { failurePercent: number; minFinished: number } | null; retries: number };
  startAt: string;
  deadlineAt: string;
  createdBy: string | null;
  createdAt: string;
}

/** One device's part in a job. */
export interface Execution {
  deviceId: string;
  wave: number;
  status: ExecutionStatus;
  attempts: number;
  /** A firmware update's last reported progress, 0-100; null for other operations or before the device reports any. */
  progress: number | null;
  commandId: string | null;
  nextAttemptAt: string | null;
  reason: string | null;
  updatedAt: string;
}

/** POST /api/v1/jobs; what the rollout leaves out the API fills with its defaults. */
export interface NewJob {
  name: string;
  target: { group: string } | { query: string };
  operation: JobOperation;
  rollout: {
    ratePerMinute?: number;
    maxInFlight?: number;
    waves?: Wave[];
    abort?: { failurePercent: number; minFinished: number };
    retries?: number;
  };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type JobAction = "pause" | "resume" | "cancel";

const jobPath = (id: string) => `/api/v1/jobs/${encodeURIComponent(id)}`;

/** Newest first; `before` is the previous page's nextCursor. */
export function jobPage(before: string | null, limit: number): Promise<Page<Job>> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (before) params.set("before", before);
  return api<Page<Job>>(`/api/v1/jobs?${params}`);
}

export const job = (id: string) => api<Job>(jobPath(id));

/** By device id; `after` is the previous page's nextCursor. */
export function executionPage(id: string, after: string | null, limit: number): Promise<Page<Execution>> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (after) params.set("after", after);
  return api<Page<Execution>>(`${jobPath(id)}/executions?${params}`);
}

export const createJob = (body: NewJob) => api<Job>("/api/v1/jobs", { method: "POST", body });

/** 409 where the job's status does not allow it, with the API's reason. */
export const jobAction = (id: string, action: JobAction) => api<Job>(`${jobPath(id)}/${action}`, { method: "POST" });
