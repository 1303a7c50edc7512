import { publishEnvelope, type Publisher } from "@umos/bus";
import type { FirmwareLinks } from "@umos/auth";
import { KINDS } from "@umos/contracts";
import { every, type Logger } from "@umos/core";
import type { Metrics } from "@umos/observability";
import {
  type FirmwarePackage,
  firmwareRepository,
  type Job,
  type JobOperation,
  type JobRepository,
  jobProgressEvent,
  packageFor,
  type PrepareCommand,
  type PreparedCommand,
  thingModelRepository,
} from "@umos/store";
import { createModelCache, type ModelCache } from "@umos/thing-model";
import { firmwareCommand } from "./firmware-command";

/** Sends of one turn in flight at once: each holds a database connection while its publish is confirmed. */
const SEND_CONCURRENCY = 8;

/**
 * The clock of jobs (docs/fleet.md): every `intervalMs` it starts the jobs whose time came, settles
 * executions whose command is final, and gives each running job its turn, sending the commands the
 * turn made. Job state lives in PostgreSQL and each turn holds its job's row, so a restarted or a
 * second iot-downlink carries on without sending any device the same attempt twice; a command made
 * but not sent before a crash is sent by the command scheduler once its device is online.
 */
export interface JobRunnerOptions {
  jobs: JobRepository;
  /** Firmware updates: the links devices download packages by (null: no key, so none). */
  firmware: { links: FirmwareLinks | null; publicUrl: string | undefined; urlTtlSec: number };
  send: (commandId: string) => Promise<void>;
  publisher: Publisher;
  metrics: Metrics;
  intervalMs: number;
  log: Logger;
}

export function startJobRunner({ jobs, firmware, send, publisher, metrics, intervalMs, log }: JobRunnerOptions) {
  const dispatched = metrics.counter("iot_job_commands_total", "Commands made by jobs' turns", []);
  const finished = metrics.counter("iot_jobs_finished_total", "Jobs that finished, by final status", ["status"]);

  /**
   * One turn's preparer: a device's command is a firmware update by its vendor's driver with the
   * package that fits it, or the service call or property set, if its thing model (if any) says the
   * call or the values are valid. Packages and models are read through the turn's own transaction and
   * kept for the turn: standalone's embedded PostgreSQL serves one transaction at a time, so a read on
   * another connection would wait for the turn that waits for it.
   */
  const preparer = (): PrepareCommand => {
    const packages = new Map<string, Promise<FirmwarePackage | undefined>>();
    let models: ModelCache | undefined;
    return async (device, operation, sql) => {
      if (operation.kind === "firmware") {
        if (!firmware.links || !firmware.publicUrl)
          return { refused: "firmware links cannot be made: set firmware.publicUrl and firmware.urlSecret (or auth.secret) for iot-downlink" };
        for (const id of operation.packages)
          if (!packages.has(id))
            packages.set(
              id,
              firmwareRepository(sql)
                .get(id)
                .catch(() => undefined),
            );
        const candidates = await Promise.all(operation.packages.map((id) => packages.get(id)!));
        const pkg = packageFor(
          candidates.filter((p) => p !== undefined),
          device,
        );
        if (!pkg) return { refused: `no package of the job fits a ${device.vendor} device of model ${device.modelId ?? "none"}` };
        if (device.firmwareVersion === pkg.version) return { done: `it already reports ${pkg.version}` };
        return firmwareCommand(device, pkg, firmware.links.sign(pkg.id, firmware.publicUrl, firmware.urlTtlSec).url);
      }
      models ??= createModelCache((id, version) => thingModelRepository(sql).get(id, version));
      return commandOf(device, operation, models);
    };
  };

  const commandOf = async (
    device: { modelId: string | null; modelVersion: number | null },
    operation: Exclude<JobOperation, { kind: "firmware" }>,
    models: ModelCache,
  ): Promise<PreparedCommand | { refused: string }> => {
    if (device.modelId !== null) {
      const { model } = await models(device.modelId, device.modelVersion!);
      const problems = operation.kind === "service" ? model.checkServiceCall(operation.service, operation.params) : model.checkPropertySet(operation.params);
      if (problems[0]) return { refused: `the thing model refuses it: ${problems[0].path}: ${problems[0].message}` };
    }
    return operation.kind === "service"
      ? { kind: KINDS.serviceCall, service: operation.service, params: operation.params }
      : { kind: KINDS.propertySet, service: null, params: operation.params };
  };

  /** `job.progress` on the event stage, for the console and WebSocket clients; a lost one is made good by the next. */
  const progress = async (job: Job) => {
    const event = jobProgressEvent(job);
    await publishEnvelope(publisher, event.routingKey, event.envelope).catch((err: unknown) => log.warn("job progress not published", { jobId: job.id, err }));
  };

  /**
   * A turn's commands, SEND_CONCURRENCY at a time: one at a time, each send's transaction and
   * confirmed publish (~10 ms) capped a job near 100 devices/s whatever its rate (bench: jobs).
   */
  const sendAll = async (ids: string[]) => {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) await send(ids[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, ids.length) }, worker));
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
        const turn = await jobs.turn(id, preparer());
        if (!turn) {
          // Paused, cancelled or aborted with commands still out: only their outcomes move it.
          if (settled.has(id)) await progress(await jobs.get(id));
          continue;
        }
        dispatched.inc(turn.commands.length);
        await sendAll(turn.commands.map((c) => c.id));
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
