import { el } from "./dom";
import type { ExecutionStatus, Job, JobProgress, JobTarget } from "./jobs-api";

/** The kind of the events iot-downlink's job runner publishes when a job's status or counts change. */
export const JOB_PROGRESS = "job.progress";

/** The order a job's counts are shown in, done first; the bar's segments take the same order. */
export const SHOWN_STATUSES: readonly ExecutionStatus[] = ["succeeded", "failed", "timed_out", "in_progress", "pending", "cancelled"];

const label = (status: string) => status.replaceAll("_", " ");

/** "3 succeeded · 1 failed": the statuses that have executions, in the shown order. */
export function countsLine(counts: Record<ExecutionStatus, number>): string {
  const parts = SHOWN_STATUSES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${label(s)}`);
  return parts.length > 0 ? parts.join(" · ") : "no devices yet";
}

/** "1/2": the wave being rolled out, counted from 1, of how many; 0 before the job starts. */
export const waveLine = (job: Pick<JobProgress, "wave" | "waves" | "startedAt">) => `${job.startedAt ? job.wave + 1 : 0}/${job.waves}`;

export function targetLine(target: JobTarget): string {
  if ("group" in target) return `group ${target.group}`;
  if ("query" in target) return `query ${target.query}`;
  const more = target.devices.length > 3 ? ` and ${target.devices.length - 3} more` : "";
  return `devices ${target.devices.slice(0, 3).join(", ")}${more}`;
}

export function operationLine({ operation }: Pick<Job, "operation">): string {
  switch (operation.kind) {
    case "service":
      return `service ${operation.service} ${JSON.stringify(operation.params)}`;
    case "property":
      return `set properties ${JSON.stringify(operation.params)}`;
    case "firmware":
      return `firmware ${operation.packages.join(", ")}`;
  }
}

/** "600/min · 50 in flight · waves 2 devices, 100% · abort past 20% failed of 5 finished · 1 retry". */
export function rolloutLine({ rollout }: Pick<Job, "rollout">): string {
  const waves = rollout.waves.map((w) => ("devices" in w ? `${w.devices} device${w.devices === 1 ? "" : "s"}` : `${w.percent}%`));
  return [
    `${rollout.ratePerMinute}/min`,
    `${rollout.maxInFlight} in flight`,
    waves.length > 0 ? `waves ${waves.join(", ")}` : "one wave",
    rollout.abort ? `abort past ${rollout.abort.failurePercent}% failed of ${rollout.abort.minFinished} finished` : "no abort threshold",
    `${rollout.retries} retr${rollout.retries === 1 ? "y" : "ies"}`,
  ].join(" · ");
}

/** A job's status as a badge; the API's value names a class only when it is one of ours. */
export const statusBadge = (status: string) => el("span", { class: `job-status ${/^[a-z_]+$/.test(status) ? status : ""}` }, [label(status)]);

/** A bar of the job's executions, one segment per status, with the counts in words beside it. */
export function progressFigure(counts: Record<ExecutionStatus, number>) {
  const line = countsLine(counts);
  const bar = el("span", { class: "bar", role: "img", "aria-label": line });
  for (const status of SHOWN_STATUSES) {
    if (counts[status] === 0) continue;
    const segment = el("span", { class: status });
    // Through the CSSOM, which the console's style-src 'self' allows, unlike a style attribute.
    segment.style.flexGrow = String(counts[status]);
    bar.append(segment);
  }
  return el("span", { class: "progress" }, [bar, el("span", { class: "counts" }, [line])]);
}
