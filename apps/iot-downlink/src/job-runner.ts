import { publishEnvelope, type Publisher } from "@umos/bus";
import { every, type Logger } from "@umos/core";
import type { Metrics } from "@umos/observability";
import { type CheckOperation, type Job, type JobRepository, jobProgressEvent } from "@umos/store";
import type { ModelCache } from "@umos/thing-model";

/**
 * The clock of jobs (docs/fleet.md): every `intervalMs` it starts the jobs whose time came, settles
 * executions whose command is final, and gives each running job its turn, sending the commands the
 * turn made. Job state lives in PostgreSQL and each turn holds its job's row, so a restarted or a
 * second iot-downlink carries on without sending any device the same attempt twice; a command made
 * but not sent before a crash is sent by the command scheduler once its device is online.
 */
export interface JobRunnerOptions {
  jobs: JobRepository;
  models: ModelCache;
  send: (commandId: string) => Promise<void>;
  publisher: Publisher;
  metrics: Metrics;
  intervalMs: number;
  log: Logger;
}

export function startJobRunner({ jobs, models, send, publisher, metrics, intervalMs, log }: JobRunnerOptions) {
  const dispatched = metrics.counter("iot_job_commands_total", "Commands made by jobs' turns", []);
  const finished = metrics.counter("iot_jobs_finished_total", "Jobs that finished, by final status", ["status"]);

  /** A device takes the operation if its thing model (if any) says the call or the values are valid. */
  const check: CheckOperation = async (device, operation) => {
    if (device.modelId === null) return null;
    const { model } = await models(device.modelId, device.modelVersion!);
    const problems = operation.kind === "service" ? model.checkServiceCall(operation.service, operation.params) : model.checkPropertySet(operation.params);
    return problems[0] ? `the thing model refuses it: ${problems[0].path}: ${problems[0].message}` : null;
  };

  /** `job.progress` on the event stage, for the console and WebSocket clients; a lost one is made good by the next. */
  const progress = async (job: Job) => {
    const event = jobProgressEvent(job);
    await publishEnvelope(publisher, event.routingKey, event.envelope).catch((err: unknown) => log.warn("job progress not published", { jobId: job.id, err }));
  };

  return every(
    "job turn",
    intervalMs,
    async () => {
      for (const job of await jobs.startDue()) {
        log.info("job started", { jobId: job.id, devices: Object.values(job.counts).reduce((a, b) => a + b, 0) });
        await progress(job);
      }
      const settled = new Set(await jobs.settle());
      for (const id of await jobs.open()) {
        const turn = await jobs.turn(id, check);
        if (!turn) {
          // Paused, cancelled or aborted with commands still out: only their outcomes move it.
          if (settled.has(id)) await progress(await jobs.get(id));
          continue;
        }
        dispatched.inc(turn.commands.length);
        for (const command of turn.commands) await send(command.id);
        if (turn.changed || settled.has(id)) await progress(turn.job);
        if (["completed", "aborted"].includes(turn.job.status)) {
          finished.inc({ status: turn.job.status });
          log.info(`job ${turn.job.status}`, { jobId: id, reason: turn.job.reason, counts: turn.job.counts });
        }
      }
    },
    log,
  );
}
