import { CronExpressionParser } from "cron-parser";
import type { Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { type Command, commandRepository } from "./commands";
import type { Sql } from "./database";
import { deviceFilter } from "./device-filter";
import { parseDeviceQuery } from "./device-query";
import { groupQueries } from "./devices";
import { type Job, type JobRow, type JobTarget, type PrepareCommand, type PreparedCommand, toJob, type Wave } from "./job-row";

/** How a job rolls out (docs/fleet.md): its turns, its firmware updates' settlement, its runs and its devices. */

const PACE_WINDOW_MS = 10_000;
/** How long a device has to accept a firmware update command (not to finish the update). */
const FIRMWARE_ACCEPT_MS = 60_000;

interface Step {
  commands: Command[];
  changed: boolean;
  finish?: "completed" | "aborted";
  reason?: string;
}

/** One turn of a running job whose row is locked: deadline, new devices, abort, waves, then dispatch. */
export async function takeTurn(sql: Sql, job: JobRow & { nextWaveAt: Date | null; pastDeadline: boolean }, prepare: PrepareCommand): Promise<Step> {
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
export async function settleFirmware(sql: Sql): Promise<string[]> {
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
export async function startRun(sql: Sql, job: { id: string; cron: string; startAt: Date; deadlineAt: Date }): Promise<void> {
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
export async function targetFilter(sql: Sql, target: JobTarget) {
  if ("devices" in target) return { where: sql`devices.id = any(${target.devices}::text[])` };
  // A group id cannot hold a quote (its pattern), so it reads back as itself.
  const query = "group" in target ? `group = "${target.group}"` : target.query;
  return deviceFilter(sql, parseDeviceQuery(query), groupQueries(sql));
}

/** The devices a job's target names when it starts, in a spread order so a canary wave is not one corner of the fleet. */
export async function resolveTargets(sql: Sql, jobId: string, target: JobTarget): Promise<string[]> {
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
