-- Alarms and the rules that raise them (docs/alarms.md).

-- Rules are versioned like thing models: a change is a new version, the latest is the one in force.
-- A rule applies to every device of a thing model (any version) or to the devices it lists.
create table alarm_rules (
  id          text not null check (id ~ '^[A-Za-z0-9._-]{1,128}$'),
  version     integer not null check (version >= 1),
  name        text not null,
  enabled     boolean not null default true,
  model_id    text,
  device_ids  text[] not null default '{}',
  definition  jsonb not null,
  created_at  timestamptz not null default now(),
  created_by  text,
  primary key (id, version),
  check ((model_id is null) <> (cardinality(device_ids) = 0))
);
create index alarm_rules_model on alarm_rules (model_id) where model_id is not null;
create index alarm_rules_devices on alarm_rules using gin (device_ids);

-- What iot-rules remembers per rule and device between events, so a restart or another replica
-- continues where the last one stopped: the facts the conditions read (latest values with their
-- device times, presence, recent command outcomes) and since when each severity's condition holds.
-- due_at: the earliest wall-clock time a duration could complete or a silence begin; the sweep's index.
create table alarm_rule_state (
  rule_id       text not null,
  device_id     text not null references devices (id) on delete cascade,
  rule_version  integer not null,
  facts         jsonb not null default '{}'::jsonb,
  timers        jsonb not null default '{}'::jsonb,
  due_at        timestamptz,
  evaluated_at  timestamptz,
  last_error    text,
  primary key (rule_id, device_id)
);
create index alarm_rule_state_due on alarm_rule_state (due_at) where due_at is not null;

-- One active alarm per (device, source): source is `rule:<id>` or a built-in type (`dji.hms`,
-- `platform.dead_letters`). A platform alarm has no device.
create table alarms (
  id               uuid primary key,
  device_id        text references devices (id) on delete cascade,
  vendor           text not null,
  source           text not null,
  type             text not null,
  rule_id          text,
  rule_version     integer,
  severity         text not null check (severity in ('critical', 'major', 'minor', 'warning')),
  status           text not null check (status in ('active', 'cleared')),
  acknowledged     boolean not null default false,
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  assignee         text,
  started_at       timestamptz not null,
  last_seen_at     timestamptz not null,
  ended_at         timestamptz,
  cleared_by       text,
  occurrences      integer not null default 1,
  details          jsonb not null default '{}'::jsonb,
  updated_at       timestamptz not null default now()
);
create unique index alarms_one_active on alarms (coalesce(device_id, ''), source) where status = 'active';
create index alarms_by_start on alarms (started_at desc, id desc);
create index alarms_by_device on alarms (device_id, started_at desc);
create index alarms_active on alarms (severity) where status = 'active';

create table alarm_comments (
  alarm_id  uuid not null references alarms (id) on delete cascade,
  seq       bigint generated always as identity,
  author    text not null,
  text      text not null check (length(text) between 1 and 4000),
  at        timestamptz not null default now(),
  primary key (alarm_id, seq)
);

-- Alarm events written in the same transaction as the change they announce and published after
-- it commits (a transactional outbox): a crash between the two publishes them later, never loses them.
create table alarm_outbox (
  id           bigint generated always as identity primary key,
  routing_key  text not null,
  message_id   text not null,
  device_id    text not null,
  body         jsonb not null,
  created_at   timestamptz not null default now()
);

-- Event ids iot-rules has evaluated: a redelivered event, on this replica or another, changes nothing.
create table alarm_events_seen (
  event_id  text primary key,
  seen_at   timestamptz not null default now()
);
create index alarm_events_seen_at on alarm_events_seen using brin (seen_at);
