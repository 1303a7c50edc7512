-- Jobs: one operation over many devices, rolled out in waves (docs/fleet.md). iot-downlink drives
-- them; every device's attempt is a command of the usual lifecycle, linked to its job.

create table jobs (
  id               uuid primary key,
  name             text not null check (length(name) between 1 and 200),
  status           text not null check (status in ('scheduled', 'running', 'paused', 'completed', 'cancelled', 'aborted')),
  -- {"group": id} | {"query": text} | {"devices": [ids]}
  target           jsonb not null,
  -- Devices that come to match a group or query target while the job runs join its last wave.
  follow_new       boolean not null default false,
  -- {"kind": "service", "service", "params"} | {"kind": "property", "params"} | {"kind": "firmware", "packages": [ids]}
  operation        jsonb not null,
  -- {ratePerMinute, maxInFlight, waves, waveGapMs, abort: {failurePercent, minFinished}, timeoutMs, retries, retryDelayMs, offlineRetryMs}
  rollout          jsonb not null,
  start_at         timestamptz not null,
  deadline_at      timestamptz not null,
  -- A recurring job: at each time its cron expression names (UTC), it starts a run of its own, a copy
  -- whose parent_id is this job; start_at is then its next time, deadline_at that run's deadline.
  cron             text check (length(cron) <= 100),
  parent_id        uuid references jobs (id) on delete set null,
  -- The wave being rolled out, and when the next may start once it is done (its gap).
  wave             integer not null default 0,
  waves            integer not null default 1,
  next_wave_at     timestamptz,
  reason           text,
  created_by       text,
  created_at       timestamptz not null default now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz not null default now(),
  check (deadline_at > start_at)
);
create index jobs_open on jobs (status, start_at) where status in ('scheduled', 'running');
create index jobs_page on jobs (created_at desc, id desc);

-- One row per device of a job. pending: waiting for its wave, its turn or its retry; in_progress: its
-- command (command_id) is out; the rest are final. attempts counts the commands made for it, and
-- each carries the idempotency key job:<job>:<attempt>, so no attempt is ever made twice.
create table job_executions (
  job_id           uuid not null references jobs (id) on delete cascade,
  device_id        text not null references devices (id) on delete cascade,
  wave             integer not null,
  position         integer not null,
  status           text not null check (status in ('pending', 'in_progress', 'succeeded', 'failed', 'timed_out', 'cancelled')),
  attempts         integer not null default 0,
  command_id       uuid,
  next_attempt_at  timestamptz,
  dispatched_at    timestamptz,
  -- A firmware update: the version the device must report to be done, and its last reported progress.
  expected_version text,
  progress         integer check (progress between 0 and 100),
  reason           text,
  updated_at       timestamptz not null default now(),
  primary key (job_id, device_id)
);
create index job_executions_turn on job_executions (job_id, status, wave, position);
create index job_executions_command on job_executions (command_id) where status = 'in_progress';
create index job_executions_dispatched on job_executions (job_id, dispatched_at);

alter table commands add column job_id uuid references jobs (id) on delete set null;
create index commands_job on commands (job_id) where job_id is not null;

-- A firmware update's progress events carry its command's id (DJI's bid, our correlationId).
create index message_log_correlation on message_log (correlation_id) where correlation_id is not null;
