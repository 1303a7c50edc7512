import { type Envelope, KINDS, routingKey, type Vendor } from "@umos/contracts";
import { ConflictError, NotFoundError } from "@umos/core";
import { json, type Sql } from "./database";
import { nextRun, placeInWaves, resolveTargets, settleFirmware, startRun, takeTurn, targetFilter } from "./job-rollout";
import {
  type ExecutionStatus,
  type Execution,
  type Job,
  jobColumns,
  type JobRow,
  type JobStatus,
  type JobTarget,
  type NewJob,
  type PrepareCommand,
  type Rollout,
  toJob,
  type Turn,
} from "./job-row";

export {
  EXECUTION_STATUSES,
  type ExecutionStatus,
  type Execution,
  type Job,
  type JobOperation,
  type JobStatus,
  type JobTarget,
  type NewJob,
  type PreparedCommand,
  type PrepareCommand,
  type Rollout,
  type Turn,
  type Wave,
} from "./job-row";
export { nextRun, placeInWaves } from "./job-rollout";

const FINAL_COMMAND = ["acked", "failed", "timeout", "cancelled", "expired"];
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
