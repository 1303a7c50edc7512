-- Thing models (immutable versions), device model references, command lifecycle with history,
-- desired state, and flags on messages accepted despite failing their model.

create table thing_models (
  id          text not null check (id ~ '^[A-Za-z0-9._-]{1,128}$'),
  version     integer not null check (version >= 1),
  name        text not null default '',
  -- strict: a report that breaks the model is dead-lettered; flag: it is stored with its problems.
  validation  text not null default 'strict' check (validation in ('strict', 'flag')),
  definition  jsonb not null,
  created_at  timestamptz not null default now(),
  primary key (id, version)
);

alter table devices
  add column model_id text,
  add column model_version integer,
  add constraint devices_model_fk foreign key (model_id, model_version) references thing_models (id, version),
  add constraint devices_model_both check ((model_id is null) = (model_version is null));
create index devices_model on devices (model_id, model_version);
create index devices_presence on devices (last_seen_at) where online;

alter table message_log add column problems jsonb;

alter table commands
  add column timeout_ms       integer not null default 30000,
  add column expires_at       timestamptz,
  add column sent_at          timestamptz,
  add column deadline_at      timestamptz,
  add column idempotency_key  text,
  add constraint commands_idempotency unique (device_id, idempotency_key);
create index commands_open on commands (status, deadline_at) where status in ('queued', 'sent');
create index commands_device_status on commands (device_id, status, created_at desc);

create table command_transitions (
  command_id  uuid not null references commands (id) on delete cascade,
  seq         bigint generated always as identity,
  status      text not null,
  reason      text,
  at          timestamptz not null default clock_timestamp(),
  primary key (command_id, seq)
);

-- The last value asked of each writable property, and the command that carries it.
create table device_desired (
  device_id   text not null references devices (id) on delete cascade,
  property    text not null,
  value       jsonb,
  command_id  uuid references commands (id) on delete set null,
  set_at      timestamptz not null default now(),
  primary key (device_id, property)
);
