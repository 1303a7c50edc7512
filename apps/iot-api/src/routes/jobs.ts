import { Elysia, t } from "elysia";
import { needs } from "../access";
import type { UmosConfig } from "@umos/config";
import { InvalidInputError } from "@umos/core";
import type { Vendor } from "@umos/contracts";
import {
  type FirmwarePackage,
  type FirmwareRepository,
  type Job,
  type JobOperation,
  type JobRepository,
  type JobTarget,
  nextRun,
  packageFor,
  type Rollout,
} from "@umos/store";
import type { ModelCache } from "@umos/thing-model";
import { API_PREFIX, DeviceId, ErrorBody, Limit } from "../schemas";
import { DeviceQuery } from "./groups";

const MAX_JOB_DEVICES = 10_000;
const DAY_MS = 86_400_000;
const MAX_JOB_DAYS = 30;

const JobStatus = t.Union([
  t.Literal("scheduled"),
  t.Literal("running"),
  t.Literal("paused"),
  t.Literal("completed"),
  t.Literal("cancelled"),
  t.Literal("aborted"),
]);
const ExecutionStatus = t.Union([
  t.Literal("pending"),
  t.Literal("in_progress"),
  t.Literal("succeeded"),
  t.Literal("failed"),
  t.Literal("timed_out"),
  t.Literal("cancelled"),
]);

const Target = t.Union(
  [
    t.Object({ group: t.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$" }) }, { additionalProperties: false }),
    t.Object({ query: DeviceQuery }, { additionalProperties: false }),
    t.Object({ devices: t.Array(DeviceId, { minItems: 1, maxItems: MAX_JOB_DEVICES, uniqueItems: true }) }, { additionalProperties: false }),
  ],
  { description: "a device group, a device query (both evaluated when the job starts), or a list of device ids" },
);
const Params = t.Record(t.String(), t.Unknown());
const Operation = t.Union([
  t.Object({ kind: t.Literal("service"), service: t.String({ minLength: 1, maxLength: 128 }), params: t.Optional(Params) }, { additionalProperties: false }),
  t.Object({ kind: t.Literal("property"), params: t.Record(t.String(), t.Unknown(), { minProperties: 1 }) }, { additionalProperties: false }),
  t.Object(
    {
      kind: t.Literal("firmware"),
      packages: t.Array(t.String({ format: "uuid" }), {
        minItems: 1,
        maxItems: 20,
        uniqueItems: true,
        description: "firmware packages; each device gets the one of its vendor and thing model, else the one of its vendor for any model",
      }),
    },
    { additionalProperties: false },
  ),
]);
const Wave = t.Union([
  t.Object({ devices: t.Integer({ minimum: 1, maximum: MAX_JOB_DEVICES }) }, { additionalProperties: false }),
  t.Object({ percent: t.Number({ exclusiveMinimum: 0, maximum: 100 }) }, { additionalProperties: false }),
]);
const RolloutBody = t.Object(
  {
    ratePerMinute: t.Optional(t.Integer({ minimum: 1, maximum: 100_000, default: 600, description: "commands sent per minute at most" })),
    maxInFlight: t.Optional(t.Integer({ minimum: 1, maximum: 10_000, default: 50, description: "devices with a command out at once" })),
    waves: t.Optional(
      t.Array(Wave, { maxItems: 10, description: "e.g. a canary [{devices: 10}, {percent: 50}, {percent: 100}]; the last wave takes the rest" }),
    ),
    waveGapMs: t.Optional(t.Integer({ minimum: 0, maximum: 7 * DAY_MS, description: "the pause after a wave is done" })),
    abort: t.Optional(
      t.Object(
        {
          failurePercent: t.Number({ minimum: 0, maximum: 100 }),
          minFinished: t.Integer({ minimum: 1, description: "finished executions before the threshold is judged" }),
        },
        { additionalProperties: false },
      ),
    ),
    timeoutMs: t.Optional(t.Integer({ minimum: 100, description: "each attempt's command timeout; default commands.defaultTimeoutMs" })),
    retries: t.Optional(t.Integer({ minimum: 0, maximum: 10, description: "attempts after a failed, timed out or expired one" })),
    retryDelayMs: t.Optional(t.Integer({ minimum: 0, maximum: DAY_MS })),
    offlineRetryMs: t.Optional(t.Integer({ minimum: 1000, maximum: DAY_MS, description: "how often a device offline at its turn is looked at again" })),
  },
  { additionalProperties: false },
);

const Counts = t.Object({
  pending: t.Integer(),
  in_progress: t.Integer(),
  succeeded: t.Integer(),
  failed: t.Integer(),
  timed_out: t.Integer(),
  cancelled: t.Integer(),
});
const JobSchema = t.Object({
  id: t.String(),
  name: t.String(),
  status: JobStatus,
  target: t.Unknown(),
  followNew: t.Boolean(),
  operation: t.Unknown(),
  rollout: t.Unknown(),
  startAt: t.Date({ description: "a recurring job: the time of its next run" }),
  deadlineAt: t.Date(),
  cron: t.Nullable(t.String({ description: "a recurring job's cron expression (UTC): it starts a run of its own at each time" })),
  parentId: t.Nullable(t.String({ description: "the recurring job that started this run" })),
  wave: t.Integer({ description: "the wave being rolled out, from 0" }),
  waves: t.Integer(),
  reason: t.Nullable(t.String({ description: "why it was aborted, cancelled or ended" })),
  createdBy: t.Nullable(t.String()),
  createdAt: t.Date(),
  startedAt: t.Nullable(t.Date()),
  finishedAt: t.Nullable(t.Date()),
  updatedAt: t.Date(),
  counts: Counts,
});
const ExecutionSchema = t.Object({
  deviceId: t.String(),
  wave: t.Integer(),
  status: ExecutionStatus,
  attempts: t.Integer(),
  progress: t.Nullable(t.Integer({ description: "a firmware update's last reported progress, 0-100" })),
  commandId: t.Nullable(t.String({ description: "the command of its latest attempt: GET /api/v1/commands/:id" })),
  nextAttemptAt: t.Nullable(t.Date()),
  reason: t.Nullable(t.String()),
  updatedAt: t.Date(),
});

export interface JobRouteParts {
  packages: FirmwareRepository;
  /** Whether iot-downlink can sign download links (firmware.publicUrl and a key are set). */
  firmwareLinks: boolean;
  jobs: JobRepository;
  /** Announces a job a person changed (job.progress); never throws. */
  announce(job: Job): Promise<void>;
  models: ModelCache;
  limits: UmosConfig["commands"];
  callerOf(request: Request): string;
}

/** Jobs (docs/fleet.md): an operation over a group, a query or a list of devices, rolled out by iot-downlink. */
export function jobRoutes({ jobs, packages, firmwareLinks, announce, models, limits, callerOf }: JobRouteParts) {
  /** A change a person made reaches every open console at once, not at the runner's next turn. */
  const announced = async (change: Promise<Job>) => {
    const job = await change;
    await announce(job);
    return job;
  };
  /** The target names devices now, and every thing model among them takes the operation. */
  const check = async (target: JobTarget, operation: JobOperation) => {
    const survey = await jobs.survey(target);
    if (survey.missing.length > 0)
      throw new InvalidInputError(
        "unknown_device",
        `${survey.missing.length} of the listed devices do not exist: '${survey.missing.slice(0, 10).join("', '")}'`,
      );
    if (survey.devices === 0 && !("devices" in target)) throw new InvalidInputError("no_devices", "the target matches no device now");
    if (operation.kind === "firmware") return checkFirmware(survey.kinds, operation.packages);
    for (const ref of survey.models) {
      const { model } = await models(ref.id, ref.version);
      const problems = operation.kind === "service" ? model.checkServiceCall(operation.service, operation.params) : model.checkPropertySet(operation.params);
      if (problems[0])
        throw new InvalidInputError("invalid_command", `thing model '${ref.id}' version ${ref.version}: ${problems[0].path}: ${problems[0].message}`, problems);
    }
  };

  /** Every kind of device the target holds has a package that fits it. */
  const checkFirmware = async (kinds: { vendor: Vendor; model: string | null }[], ids: string[]) => {
    if (!firmwareLinks)
      throw new InvalidInputError("invalid_job", "firmware updates need download links: set firmware.publicUrl and firmware.urlSecret (or auth.secret)");
    const found = await Promise.all(ids.map((id) => packages.get(id).catch(() => undefined)));
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length > 0) throw new InvalidInputError("unknown_package", `firmware package '${missing[0]}' does not exist`);
    for (const kind of kinds) {
      if (!packageFor(found as FirmwarePackage[], { vendor: kind.vendor, modelId: kind.model }))
        throw new InvalidInputError(
          "no_package",
          `the target holds ${kind.vendor} devices of model ${kind.model ?? "none"}, and no package of the job fits them`,
        );
    }
  };

  return new Elysia({ prefix: "/jobs", tags: ["jobs"] })
    .post(
      "/",
      async ({ body, request, set }) => {
        const operation: JobOperation = body.operation.kind === "service" ? { ...body.operation, params: body.operation.params ?? {} } : body.operation;
        if (body.followNew && "devices" in body.target) throw new InvalidInputError("invalid_job", "followNew takes a group or a query target, not a list");
        const startAt = body.startAt ?? new Date();
        const deadlineAt = body.deadlineAt ?? new Date(startAt.getTime() + DAY_MS);
        if (deadlineAt.getTime() <= Math.max(startAt.getTime(), Date.now()))
          throw new InvalidInputError("invalid_job", "deadlineAt must be after startAt and in the future");
        if (deadlineAt.getTime() - startAt.getTime() > MAX_JOB_DAYS * DAY_MS)
          throw new InvalidInputError("invalid_job", `a job runs at most ${MAX_JOB_DAYS} days from its start`);
        const r = body.rollout ?? {};
        const timeoutMs = r.timeoutMs ?? limits.defaultTimeoutMs;
        if (timeoutMs > limits.maxTimeoutMs)
          throw new InvalidInputError("invalid_job", `rollout.timeoutMs: ${timeoutMs} is above the maximum ${limits.maxTimeoutMs}`);
        const rollout: Rollout = {
          ratePerMinute: r.ratePerMinute ?? 600,
          maxInFlight: r.maxInFlight ?? 50,
          waves: r.waves ?? [],
          waveGapMs: r.waveGapMs ?? 0,
          abort: r.abort ?? null,
          timeoutMs,
          retries: r.retries ?? 0,
          retryDelayMs: r.retryDelayMs ?? 30_000,
          offlineRetryMs: r.offlineRetryMs ?? 60_000,
        };
        await check(body.target, operation);
        // A bad cron expression is refused before anything is stored.
        if (body.cron !== undefined) nextRun(body.cron, startAt);
        const job = await jobs.create({
          id: Bun.randomUUIDv7(),
          name: body.name,
          target: body.target,
          followNew: body.followNew ?? false,
          operation,
          rollout,
          startAt,
          deadlineAt,
          cron: body.cron,
          createdBy: callerOf(request),
        });
        set.status = 201;
        set.headers.location = `${API_PREFIX}/jobs/${job.id}`;
        return job;
      },
      {
        body: t.Object(
          {
            name: t.String({ minLength: 1, maxLength: 200 }),
            target: Target,
            followNew: t.Optional(t.Boolean({ description: "devices that come to match a group or query while the job runs join its last wave" })),
            operation: Operation,
            startAt: t.Optional(t.Date({ description: "default now; with cron, the runs start at its times from then on" })),
            cron: t.Optional(
              t.String({
                minLength: 9,
                maxLength: 100,
                description:
                  "recurring: a cron expression in UTC (minute hour day month weekday, e.g. 0 2 * * 1-5); each time starts a run, a copy of this job",
              }),
            ),
            deadlineAt: t.Optional(t.Date({ description: "default a day after the start; what was not done by then fails with the reason" })),
            rollout: t.Optional(RolloutBody),
          },
          { additionalProperties: false },
        ),
        response: { 201: JobSchema, 400: ErrorBody },
        detail: needs("operator", {
          summary: "Run a service call or property set over a group, a query or a list of devices, in waves, paced, with retries and an abort threshold",
        }),
      },
    )
    .get("/", ({ query }) => jobs.list({ limit: query.limit ?? 50, before: query.before, status: query.status }), {
      query: t.Object({ limit: t.Optional(Limit), before: t.Optional(t.String({ format: "uuid" })), status: t.Optional(JobStatus) }),
      response: t.Object({ items: t.Array(JobSchema), nextCursor: t.Nullable(t.String()) }),
      detail: needs("viewer", { summary: "Jobs, newest first (pass nextCursor as before), with their counts per execution status" }),
    })
    .get("/:id", ({ params }) => jobs.get(params.id), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: JobSchema, 404: ErrorBody },
      detail: needs("viewer", { summary: "A job with its counts per execution status" }),
    })
    .get("/:id/executions", ({ params, query }) => jobs.executions(params.id, { limit: query.limit ?? 50, after: query.after, status: query.status }), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      query: t.Object({ limit: t.Optional(Limit), after: t.Optional(t.String({ maxLength: 128 })), status: t.Optional(ExecutionStatus) }),
      response: { 200: t.Object({ items: t.Array(ExecutionSchema), nextCursor: t.Nullable(t.String()) }), 404: ErrorBody },
      detail: needs("viewer", { summary: "Each device's execution of a job, by device id (pass nextCursor as after)" }),
    })
    .post("/:id/pause", ({ params }) => announced(jobs.pause(params.id)), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: JobSchema, 404: ErrorBody, 409: ErrorBody },
      detail: needs("operator", { summary: "Stop sending (commands already out finish); resume carries on" }),
    })
    .post("/:id/resume", ({ params }) => announced(jobs.resume(params.id)), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: JobSchema, 404: ErrorBody, 409: ErrorBody },
      detail: needs("operator", { summary: "Carry on with a paused job" }),
    })
    .post("/:id/cancel", ({ params, request }) => announced(jobs.cancel(params.id, callerOf(request))), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: JobSchema, 404: ErrorBody, 409: ErrorBody },
      detail: needs("operator", { summary: "Stop a job for good: executions not yet sent are cancelled; commands already out finish" }),
    });
}
