import { CronExpressionParser } from "cron-parser";
import { type Envelope, KINDS, routingKey, type Vendor } from "@umos/contracts";
import { ConflictError, InvalidInputError, NotFoundError } from "@umos/core";
import { type Command, commandRepository } from "./commands";
import { json, type Sql } from "./database";
import { deviceFilter } from "./device-filter";
import { parseDeviceQuery } from "./device-query";
import { groupQueries } from "./devices";

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

const PACE_WINDOW_MS = 10_000;
/** How long a device has to accept a firmware update command (not to finish the update). */
const FIRMWARE_ACCEPT_MS = 60_000;
const FINAL_COMMAND = ["acked", "failed", "timeout", "cancelled", "expired"];

const jobColumns = (sql: Sql) => sql`
  j.id, j.name, j.status, j.target, j.follow_new as "followNew", j.operation, j.rollout, j.start_at as "startAt",
  j.deadline_at as "deadlineAt", j.cron, j.parent_id as "parentId", j.wave, j.waves, j.reason, j.created_by as "createdBy", j.created_at as "createdAt",
  j.started_at as "startedAt", j.finished_at as "finishedAt", j.updated_at as "updatedAt",
  (select coalesce(jsonb_object_agg(s.status, s.n), '{}') from
    (select status, count(*)::int as n from job_executions e where e.job_id = j.id group by status) s) as counts`;

type JobRow = Omit<Job, "counts"> & { counts: Partial<Record<ExecutionStatus, number>> };
const toJob = (row: JobRow): Job => ({
  ...row,
  counts: Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, row.counts[s] ?? 0])) as Record<ExecutionStatus, number>,
});

/**
 * The event that announces a job's status or counts: `iot.generic.event.job.progress`, of no device
 * (`deviceId` empty), so WebSocket clients take it by kind. iot-downlink sends one when a turn or an
 * outcome changes a job, iot-api when a person pauses, resumes or cancels it.
 */
export function jobProgressEvent(job: Job): { routingKey: string; envelope: Envelope } {
  const { id, name, status, wave, waves, counts, reason, startedAt, finishedAt, updatedAt } = job;
  return {
    routingKey: routingKey("generic", "event", KINDS.jobProgress),
    envelope: {
      id: Bun.randomUUIDv7(),
      ts: Date.now(),
      vendor: "generic",
      deviceId: "",
      kind: KINDS.jobProgress,
      data: { job: { id, name, status, wave, waves, counts, reason, startedAt, finishedAt, updatedAt } },
    },
  };
}

export interface JobRepository {
  create(job: NewJob): Promise<Job>;
  get(id: string): Promise<Job>;
  /** Newest first; `before` is the last id of the previous page. */
  list(options: { limit: number; before?: string; status?: JobStatus }): Promise<{ items: Job[]; nextCursor: string | null }>;
  /** In wave order; `after` is the last device id of the previous page. */
  executions(id: string, options: { limit: number; after?: string; status?: ExecutionStatus }): Promise<{ items: Execution[]; nextCursor: string | null }>;
  /** A scheduled or running job stops sending; commands already out finish. */
  pause(id: string): Promise<Job>;
  resume(id: string): Promise<Job>;
  /** Stops the job for good: executions not yet sent are cancelled; commands already out finish. */
  cancel(id: string, by: string): Promise<Job>;

  /**
   * What a target names now, to check a job before it is created: how many devices, the thing
   * model versions among them, and listed ids that do not exist. A bad query or group is refused.
   */
  survey(
    target: JobTarget,
  ): Promise<{ devices: number; models: { id: string; version: number }[]; kinds: { vendor: Vendor; model: string | null }[]; missing: string[] }>;
  /** Starts the scheduled jobs whose time came: resolves their devices into waves. Returns them. */
  startDue(): Promise<Job[]>;
  /** Settles executions whose command reached a final status: success, a retry, or failure. Returns the jobs touched. */
  settle(): Promise<string[]>;
  /** Jobs the runner drives: running, or paused with commands out. */
  open(): Promise<string[]>;
  /** One turn of a running job, under its row lock: deadline, abort, waves, then the commands to send. */
  turn(id: string, prepare: PrepareCommand): Promise<Turn | undefined>;
}

export function jobRepository(sql: Sql): JobRepository {
  const get = async (id: string): Promise<Job> => {
    const [row] = await sql<JobRow[]>`select ${jobColumns(sql)} from jobs j where j.id = ${id}`;
    if (!row) throw new NotFoundError(`job '${id}' does not exist`);
    return toJob(row);
  };

  /** Moves a job from one of `from` to `to`; 409 naming its status otherwise. */
  const move = async (id: string, from: JobStatus[], to: (current: { started: boolean }) => JobStatus, verb: string) => {
    const [row] = await sql<{ status: JobStatus; startedAt: Date | null }[]>`select status, started_at as "startedAt" from jobs where id = ${id}`;
    if (!row) throw new NotFoundError(`job '${id}' does not exist`);
    const next = to({ started: row.startedAt !== null });
    const moved = await sql`update jobs set status = ${next}, updated_at = now() where id = ${id} and status = any(${from}::text[])`;
    if (moved.count === 0) throw new ConflictError(`job '${id}' is ${row.status}; only a ${from.join(" or ")} job can be ${verb}`);
    return get(id);
  };

  return {
    async create(job: NewJob): Promise<Job> {
      let { startAt, deadlineAt } = job;
      if (job.cron !== undefined) {
        startAt = nextRun(job.cron, new Date(Math.max(Date.now(), job.startAt.getTime()) - 1));
        deadlineAt = new Date(startAt.getTime() + (job.deadlineAt.getTime() - job.startAt.getTime()));
      }
      await sql`
        insert into jobs (id, name, status, target, follow_new, operation, rollout, start_at, deadline_at, cron, waves, created_by)
        values (${job.id}, ${job.name}, 'scheduled', ${json(sql, job.target)}, ${job.followNew}, ${json(sql, job.operation)},
          ${json(sql, job.rollout)}, ${startAt}, ${deadlineAt}, ${job.cron ?? null}, ${job.rollout.waves.length || 1}, ${job.createdBy})`;
      return get(job.id);
    },

    get,

    async list(options) {
      const rows = await sql<JobRow[]>`
        select ${jobColumns(sql)} from jobs j
        where true ${options.before ? sql`and j.id < ${options.before}::uuid` : sql``} ${options.status ? sql`and j.status = ${options.status}` : sql``}
        order by j.id desc limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit).map(toJob);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    async executions(id, options) {
      await get(id);
      const rows = await sql<Execution[]>`
        select device_id as "deviceId", wave, status, attempts, progress, command_id as "commandId", next_attempt_at as "nextAttemptAt", reason,
          updated_at as "updatedAt"
        from job_executions where job_id = ${id}
          ${options.after ? sql`and device_id > ${options.after}` : sql``} ${options.status ? sql`and status = ${options.status}` : sql``}
        order by device_id limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.deviceId : null };
    },

    async survey(target) {
      const { where } = await targetFilter(sql, target);
      const [row] = await sql<{ devices: number; models: { id: string; version: number }[]; kinds: { vendor: Vendor; model: string | null }[] }[]>`
        select count(*)::int as devices,
          coalesce(jsonb_agg(distinct jsonb_build_object('id', model_id, 'version', model_version)) filter (where model_id is not null), '[]') as models,
          coalesce(jsonb_agg(distinct jsonb_build_object('vendor', vendor, 'model', model_id)), '[]') as kinds
        from devices where ${where}`;
      let missing: string[] = [];
      if ("devices" in target) {
        const found = new Set((await sql<{ id: string }[]>`select id from devices where id = any(${target.devices}::text[])`).map((r) => r.id));
        missing = target.devices.filter((d) => !found.has(d));
      }
      return { devices: row!.devices, models: row!.models, kinds: row!.kinds, missing };
    },

    pause: (id) => move(id, ["scheduled", "running"], () => "paused", "paused"),
    resume: (id) => move(id, ["paused"], ({ started }) => (started ? "running" : "scheduled"), "resumed"),

    async cancel(id, by) {
      await sql.begin(async (tx) => {
        const [row] = await tx<{ status: JobStatus }[]>`select status from jobs where id = ${id} for update`;
        if (!row) throw new NotFoundError(`job '${id}' does not exist`);
        if (!["scheduled", "running", "paused"].includes(row.status))
          throw new ConflictError(`job '${id}' is ${row.status}; only a scheduled, running or paused job can be cancelled`);
        const reason = `cancelled by ${by}`;
        await tx`update jobs set status = 'cancelled', reason = ${reason}, finished_at = now(), updated_at = now() where id = ${id}`;
        await tx`update job_executions set status = 'cancelled', reason = 'the job was cancelled before its turn', updated_at = now()
          where job_id = ${id} and status = 'pending'`;
      });
      return get(id);
    },

    async startDue(): Promise<Job[]> {
      const started: Job[] = [];
      for (;;) {
        const id = await sql.begin(async (tx) => {
          const [job] = await tx<{ id: string; target: JobTarget; rollout: Rollout; cron: string | null; startAt: Date; deadlineAt: Date }[]>`
            select id, target, rollout, cron, start_at as "startAt", deadline_at as "deadlineAt" from jobs
            where status = 'scheduled' and start_at <= now()
            order by start_at limit 1 for update skip locked`;
          if (!job) return undefined;
          if (job.cron !== null) {
            await startRun(tx as unknown as Sql, { ...job, cron: job.cron });
            return null;
          }
          const devices = await resolveTargets(tx as unknown as Sql, job.id, job.target);
          const placed = placeInWaves(devices.length, job.rollout.waves);
          await tx`
            insert into job_executions (job_id, device_id, wave, position, status)
            select ${job.id}, d, w, p, 'pending' from unnest(${devices}::text[], ${placed}::int[]) with ordinality as r(d, w, p)`;
          await tx`update jobs set status = 'running', started_at = now(), updated_at = now() where id = ${job.id}`;
          return job.id;
        });
        if (id === undefined) return started;
        if (id !== null) started.push(await get(id));
      }
    },

    async settle(): Promise<string[]> {
      // A command's final status settles its execution: acked is success; otherwise a retry while
      // attempts, the deadline and the job allow, else failed (timed_out when the device never answered).
      const rows = await sql<{ jobId: string }[]>`
        with done as (
          select e.job_id, e.device_id, c.status as outcome, c.reason as cause, j.rollout, j.status as job_status, j.deadline_at
          from job_executions e
          join commands c on c.id = e.command_id
          join jobs j on j.id = e.job_id
          where e.status = 'in_progress' and c.status = any(${FINAL_COMMAND}::text[]) and j.operation->>'kind' <> 'firmware'
          for update of e skip locked
        ), verdict as (
          select done.*, case
            when outcome = 'acked' then 'succeeded'
            when e.attempts <= (rollout->>'retries')::int and job_status in ('running', 'paused')
              and now() + make_interval(secs => (rollout->>'retryDelayMs')::bigint / 1000.0) < deadline_at then 'pending'
            when outcome in ('timeout', 'expired') then 'timed_out'
            else 'failed' end as status
          from done join job_executions e on e.job_id = done.job_id and e.device_id = done.device_id
        )
        update job_executions e set
          status = v.status,
          reason = case when v.status = 'succeeded' then null
            else format('attempt %s: %s', e.attempts, coalesce(v.cause, v.outcome)) end,
          next_attempt_at = case when v.status = 'pending' then now() + make_interval(secs => (v.rollout->>'retryDelayMs')::bigint / 1000.0) end,
          updated_at = now()
        from verdict v
        where e.job_id = v.job_id and e.device_id = v.device_id
        returning e.job_id as "jobId"`;
      const updates = await settleFirmware(sql);
      return [...new Set([...rows.map((r) => r.jobId), ...updates])];
    },

    async open(): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select id from jobs j where status = 'running'
          or (status in ('paused', 'cancelled', 'aborted') and exists (select 1 from job_executions e where e.job_id = j.id and e.status = 'in_progress'))
        order by id`;
      return rows.map((r) => r.id);
    },

    async turn(id, prepare): Promise<Turn | undefined> {
      const outcome = await sql.begin(async (tx) => {
        const t = tx as unknown as Sql;
        const [job] = await t<(JobRow & { nextWaveAt: Date | null; pastDeadline: boolean })[]>`
          select ${jobColumns(t)}, j.next_wave_at as "nextWaveAt", now() >= j.deadline_at as "pastDeadline"
          from jobs j where j.id = ${id} and j.status = 'running' for update skip locked`;
        if (!job) return undefined;
        const step = await takeTurn(t, job, prepare);
        if (step.finish)
          await t`update jobs set status = ${step.finish}, reason = coalesce(${step.reason ?? null}, reason), finished_at = now(), updated_at = now()
            where id = ${id}`;
        return step;
      });
      if (!outcome) return undefined;
      return { job: await get(id), commands: outcome.commands, changed: outcome.changed || outcome.finish !== undefined };
    },
  };
}

interface Step {
  commands: Command[];
  changed: boolean;
  finish?: "completed" | "aborted";
  reason?: string;
}

/** One turn of a running job whose row is locked: deadline, new devices, abort, waves, then dispatch. */
async function takeTurn(sql: Sql, job: JobRow & { nextWaveAt: Date | null; pastDeadline: boolean }, prepare: PrepareCommand): Promise<Step> {
  const counts = toJob(job).counts;
  if (job.pastDeadline) {
    const missed = await sql`
      update job_executions set status = 'failed', updated_at = now(),
        reason = case when reason like 'offline%' then 'offline until the job''s deadline' else 'not sent before the job''s deadline' end
      where job_id = ${job.id} and status = 'pending'`;
    // Commands already out are waited for; then the job is over.
    if (counts.in_progress === 0) return { commands: [], changed: true, finish: "completed", reason: "its deadline passed" };
    return { commands: [], changed: missed.count > 0 };
  }
  let changed = job.followNew && !("devices" in job.target) ? (await joinNewDevices(sql, job)) > 0 : false;
  const abort = job.rollout.abort;
  const finished = counts.succeeded + counts.failed + counts.timed_out;
  const failures = counts.failed + counts.timed_out;
  if (abort && finished >= abort.minFinished && failures * 100 > abort.failurePercent * finished) {
    const reason = `${failures} of ${finished} finished executions failed (${Math.round((failures * 100) / finished)}% > ${abort.failurePercent}%)`;
    await sql`update job_executions set status = 'cancelled', reason = ${`the job was aborted: ${reason}`}, updated_at = now()
      where job_id = ${job.id} and status = 'pending'`;
    return { commands: [], changed: true, finish: "aborted", reason };
  }
  // The current wave is done when none of its (or an earlier wave's) executions is open.
  const [open] = await sql<{ current: number; all: number }[]>`
    select count(*) filter (where wave <= ${job.wave})::int as current, count(*)::int as all
    from job_executions where job_id = ${job.id} and status in ('pending', 'in_progress')`;
  if (open!.all === 0 && job.wave >= job.waves - 1 && !job.followNew) return { commands: [], changed: true, finish: "completed" };
  let wave = job.wave;
  if (open!.current === 0 && wave < job.waves - 1) {
    let due = job.nextWaveAt !== null && job.nextWaveAt.getTime() <= Date.now();
    if (job.nextWaveAt === null) {
      await sql`update jobs set next_wave_at = now() + make_interval(secs => ${job.rollout.waveGapMs} / 1000.0), updated_at = now() where id = ${job.id}`;
      changed = true;
      due = job.rollout.waveGapMs === 0;
    }
    if (!due) return { commands: [], changed };
    wave += 1;
    await sql`update jobs set wave = ${wave}, next_wave_at = null, updated_at = now() where id = ${job.id}`;
    changed = true;
  }
  const commands = await dispatch(sql, job, wave, prepare);
  return { commands, changed: changed || commands.length > 0 };
}

/** DJI's `ota_progress` statuses and ours (`ota.progress` state) that end an update without the new version. */
const FIRMWARE_FAILED = ["failed", "canceled", "cancelled", "timeout", "rejected"];

/**
 * Firmware updates are done when the device reports the new version (`firmware_version` in its
 * state), not when it accepts the command. Until then an execution follows its command's latest
 * progress event (DJI `ota_progress` by bid, our `ota.progress` by correlationId, Tuya's by device
 * and time, as TuyaLink names no command); it fails when the
 * device refuses the command or reports a failed update, and times out when rollout.timeoutMs passes
 * without the version. A failure is retried as any other while attempts and the deadline allow.
 */
async function settleFirmware(sql: Sql): Promise<string[]> {
  const rows = await sql<{ jobId: string }[]>`
    with current as (
      select e.job_id, e.device_id, e.attempts, e.expected_version, e.progress as was, j.rollout, j.status as job_status, j.deadline_at,
        c.status as command, c.reason as cause,
        (select s.value #>> '{}' from device_state s where s.device_id = e.device_id and s.property = 'firmware_version') as reported,
        coalesce(
          (select m.data -> 'data' from message_log m
            where m.correlation_id = e.command_id::text and m.kind = 'event.report' and m.data ->> 'event' in ('ota_progress', 'ota.progress')
            order by m.id desc limit 1),
          -- TuyaLink's progress names no command: the device's latest since this attempt was sent.
          (select m.data -> 'data' from message_log m
            where m.device_id = e.device_id and m.correlation_id is null and m.kind = 'event.report' and m.data ->> 'event' = 'ota.progress'
              and m.received_at >= e.dispatched_at
            order by m.id desc limit 1)) as event,
        now() > e.dispatched_at + make_interval(secs => (j.rollout->>'timeoutMs')::bigint / 1000.0) as overdue
      from job_executions e join jobs j on j.id = e.job_id left join commands c on c.id = e.command_id
      where e.status = 'in_progress' and j.operation->>'kind' = 'firmware'
      for update of e skip locked
    ), read as (
      select current.*,
        coalesce(event #>> '{output,status}', event ->> 'state') as state,
        case when jsonb_typeof(coalesce(event #> '{output,progress,percent}', event -> 'percent')) = 'number'
          then least(100, greatest(0, (coalesce(event #> '{output,progress,percent}', event -> 'percent'))::numeric::int)) end as percent
      from current
    ), verdict as (
      select read.*, case
        when reported = expected_version then 'succeeded'
        when command in ('failed', 'cancelled', 'expired') then 'failed'
        when state = any(${FIRMWARE_FAILED}::text[]) then 'failed'
        when overdue then 'timed_out'
        end as outcome,
        case
          when command in ('failed', 'cancelled', 'expired') then coalesce(cause, command)
          when state = any(${FIRMWARE_FAILED}::text[]) then coalesce(event #>> '{message}', format('the device reported %s%s', state,
            coalesce(' at ' || (event #>> '{output,progress,current_step}'), '') || coalesce(' (result ' || (event ->> 'result') || ')', '')))
          else format('no version %s reported in time; it reports %s', expected_version, coalesce(reported, 'none'))
        end as why
      from read
    )
    update job_executions e set
      status = case
        when v.outcome is null then 'in_progress'
        when v.outcome = 'succeeded' then 'succeeded'
        when e.attempts <= (v.rollout->>'retries')::int and v.job_status in ('running', 'paused')
          and now() + make_interval(secs => (v.rollout->>'retryDelayMs')::bigint / 1000.0) < v.deadline_at then 'pending'
        else v.outcome end,
      progress = case when v.outcome = 'succeeded' then 100 else coalesce(v.percent, e.progress) end,
      reason = case when v.outcome is null or v.outcome = 'succeeded' then null else format('attempt %s: %s', e.attempts, v.why) end,
      next_attempt_at = case when v.outcome is not null and v.outcome <> 'succeeded'
        then now() + make_interval(secs => (v.rollout->>'retryDelayMs')::bigint / 1000.0) end,
      updated_at = now()
    from verdict v
    where e.job_id = v.job_id and e.device_id = v.device_id and (v.outcome is not null or v.percent is distinct from v.was)
    returning e.job_id as "jobId"`;
  return rows.map((r) => r.jobId);
}

/** The first time a cron expression (UTC; 5 fields, or 6 with seconds) names after `after`; refuses a bad one. */
export function nextRun(cron: string, after: Date): Date {
  try {
    return CronExpressionParser.parse(cron, { currentDate: after, tz: "UTC" }).next().toDate();
  } catch (err) {
    throw new InvalidInputError("invalid_job", `cron: '${cron}' is not a cron expression: ${(err as Error).message}`);
  }
}

/**
 * A recurring job's time came: a run of its own starts (a copy, named for its time), and the job
 * moves on to its next time. Times missed while nobody ran (iot-downlink down) start one run, not one each.
 */
async function startRun(sql: Sql, job: { id: string; cron: string; startAt: Date; deadlineAt: Date }): Promise<void> {
  const window = job.deadlineAt.getTime() - job.startAt.getTime();
  await sql`
    insert into jobs (id, name, status, target, follow_new, operation, rollout, start_at, deadline_at, waves, parent_id, created_by)
    select ${Bun.randomUUIDv7()}, left(name || ' ' || to_char(start_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI'), 200), 'scheduled', target,
      follow_new, operation, rollout, start_at, deadline_at, waves, id, created_by
    from jobs where id = ${job.id}`;
  const next = nextRun(job.cron, new Date(Math.max(Date.now(), job.startAt.getTime())));
  await sql`update jobs set start_at = ${next}, deadline_at = ${new Date(next.getTime() + window)}, updated_at = now() where id = ${job.id}`;
}

/** A target as a condition on `devices` (wrapped: a fragment is a thenable). */
async function targetFilter(sql: Sql, target: JobTarget) {
  if ("devices" in target) return { where: sql`devices.id = any(${target.devices}::text[])` };
  // A group id cannot hold a quote (its pattern), so it reads back as itself.
  const query = "group" in target ? `group = "${target.group}"` : target.query;
  return deviceFilter(sql, parseDeviceQuery(query), groupQueries(sql));
}

/** The devices a job's target names when it starts, in a spread order so a canary wave is not one corner of the fleet. */
async function resolveTargets(sql: Sql, jobId: string, target: JobTarget): Promise<string[]> {
  const { where } = await targetFilter(sql, target);
  const rows = await sql<{ id: string }[]>`select id from devices where ${where} order by md5(${jobId} || id)`;
  return rows.map((r) => r.id);
}

/** Devices that came to match a group or query target while the job runs join its last wave. */
async function joinNewDevices(sql: Sql, job: Pick<Job, "id" | "target" | "waves">): Promise<number> {
  const { where } = await targetFilter(sql, job.target);
  const added = await sql`
    insert into job_executions (job_id, device_id, wave, position, status)
    select ${job.id}, devices.id, ${job.waves - 1}, 1000000000, 'pending' from devices
    where ${where} and not exists (select 1 from job_executions e where e.job_id = ${job.id} and e.device_id = devices.id)
    on conflict do nothing`;
  return added.count;
}

/** The wave of each of `count` devices in rollout order: each wave its number or share of all, the last the rest. */
export function placeInWaves(count: number, waves: readonly Wave[]): number[] {
  const ends: number[] = [];
  let end = 0;
  for (const [i, w] of waves.entries()) {
    end = i === waves.length - 1 ? count : Math.min(count, end + ("devices" in w ? w.devices : Math.ceil((w.percent / 100) * count)));
    ends.push(end);
  }
  if (ends.length === 0) ends.push(count);
  return Array.from({ length: count }, (_, i) => ends.findIndex((e) => i < e));
}

/**
 * Creates this turn's commands: pending executions of the waves so far whose retry time came, of
 * online devices, as many as the in-flight limit and the pace allow. A device offline at its turn
 * waits offlineRetryMs; one its thing model refuses the operation for fails with the model's reason.
 */
async function dispatch(sql: Sql, job: JobRow, wave: number, prepare: PrepareCommand): Promise<Command[]> {
  const rollout = job.rollout;
  const [load] = await sql<{ inFlight: number; recent: number }[]>`
    select count(*) filter (where status = 'in_progress')::int as "inFlight",
      count(*) filter (where dispatched_at > now() - make_interval(secs => ${PACE_WINDOW_MS / 1000}))::int as recent
    from job_executions where job_id = ${job.id}`;
  const perWindow = Math.max(1, Math.ceil((rollout.ratePerMinute * PACE_WINDOW_MS) / 60_000));
  const budget = Math.min(rollout.maxInFlight - load!.inFlight, perWindow - load!.recent);
  await sql`
    update job_executions e set next_attempt_at = now() + make_interval(secs => ${rollout.offlineRetryMs} / 1000.0),
      reason = 'offline at its turn; tried again until the job''s deadline', updated_at = now()
    from devices d
    where e.job_id = ${job.id} and e.status = 'pending' and e.wave <= ${wave} and (e.next_attempt_at is null or e.next_attempt_at <= now())
      and d.id = e.device_id and not d.online`;
  if (budget <= 0) return [];
  const turn = await sql<
    { deviceId: string; vendor: Vendor; modelId: string | null; modelVersion: number | null; firmwareVersion: string | null; attempts: number }[]
  >`
    select e.device_id as "deviceId", d.vendor, d.model_id as "modelId", d.model_version as "modelVersion", e.attempts,
      (select s.value #>> '{}' from device_state s where s.device_id = d.id and s.property = 'firmware_version') as "firmwareVersion"
    from job_executions e join devices d on d.id = e.device_id
    where e.job_id = ${job.id} and e.status = 'pending' and e.wave <= ${wave} and (e.next_attempt_at is null or e.next_attempt_at <= now()) and d.online
    order by e.wave, e.position limit ${budget}
    for update of e`;
  const settled: { deviceId: string; status: "failed" | "succeeded"; reason: string }[] = [];
  const accepted: { device: (typeof turn)[number]; command: PreparedCommand }[] = [];
  for (const device of turn) {
    const prepared = await prepare(
      { id: device.deviceId, vendor: device.vendor, modelId: device.modelId, modelVersion: device.modelVersion, firmwareVersion: device.firmwareVersion },
      job.operation,
      sql,
    );
    if ("refused" in prepared) settled.push({ deviceId: device.deviceId, status: "failed", reason: prepared.refused });
    else if ("done" in prepared) settled.push({ deviceId: device.deviceId, status: "succeeded", reason: prepared.done });
    else accepted.push({ device, command: prepared });
  }
  // Refused (its thing model, no package), or nothing to do (already on the version): decided without a command.
  if (settled.length > 0)
    await sql`
      update job_executions e set status = r.status, reason = r.reason, progress = case when r.status = 'succeeded' then 100 end, updated_at = now()
      from unnest(${settled.map((r) => r.deviceId)}::text[], ${settled.map((r) => r.status)}::text[], ${settled.map((r) => r.reason)}::text[])
        as r(device_id, status, reason)
      where e.job_id = ${job.id} and e.device_id = r.device_id`;
  // A firmware command only has to be accepted in this time; the update itself has rollout.timeoutMs.
  const timeoutMs = job.operation.kind === "firmware" ? Math.min(rollout.timeoutMs, FIRMWARE_ACCEPT_MS) : rollout.timeoutMs;
  const created = await commandRepository(sql).createMany(
    accepted.map(({ device, command }) => ({
      id: Bun.randomUUIDv7(),
      deviceId: device.deviceId,
      vendor: device.vendor,
      kind: command.kind,
      service: command.service,
      params: command.params,
      timeoutMs,
      ttlMs: timeoutMs,
      idempotencyKey: `job:${job.id}:${device.attempts + 1}`,
      jobId: job.id,
    })),
  );
  if (created.length !== accepted.length)
    throw new InvalidInputError("job_attempt_repeated", `job ${job.id}: an attempt was already made; its execution is out of step with its commands`);
  const expected = new Map(accepted.map(({ device, command }) => [device.deviceId, command.expectVersion ?? null]));
  if (created.length > 0)
    await sql`
      update job_executions e set status = 'in_progress', attempts = attempts + 1, command_id = r.command_id, dispatched_at = now(),
        next_attempt_at = null, expected_version = r.version, progress = null, updated_at = now()
      from unnest(${created.map((c) => c.deviceId)}::text[], ${created.map((c) => c.id)}::uuid[], ${created.map((c) => expected.get(c.deviceId) ?? null)}::text[])
        as r(device_id, command_id, version)
      where e.job_id = ${job.id} and e.device_id = r.device_id`;
  return created;
}
