-- The device registry, the message log, latest state and commands (docs/design.md §5).

create table devices (
  id            text primary key check (length(id) between 1 and 128 and id !~ '[/+#]'),
  vendor        text not null check (vendor in ('dji', 'tuya', 'generic')),
  name          text not null default '',
  metadata      jsonb not null default '{}'::jsonb,
  online        boolean not null default false,
  last_seen_at  timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

-- Latest reported value per property; a late, older report never overwrites a newer one.
create table device_state (
  device_id    text not null references devices (id) on delete cascade,
  property     text not null,
  value        jsonb,
  reported_at  timestamptz not null,
  primary key (device_id, property)
);

-- Every decoded device message once. id is the gateway's UUIDv7 (time-ordered, so it pages);
-- dedupe_key is the device's own message id, or a payload hash within a time window, so a frame
-- the MQTT broker resends after a gateway crash is stored once (docs/design.md §3).
create table message_log (
  id              uuid primary key,
  device_id       text not null references devices (id) on delete cascade,
  dedupe_key      text not null,
  vendor          text not null,
  kind            text not null,
  ts              timestamptz not null,
  received_at     timestamptz not null,
  data            jsonb not null,
  correlation_id  text,
  unique (device_id, dedupe_key)
);
create index message_log_device_page on message_log (device_id, id desc);

create table commands (
  id          uuid primary key,
  device_id   text not null references devices (id) on delete cascade,
  vendor      text not null,
  kind        text not null,
  service     text,
  params      jsonb not null default '{}'::jsonb,
  status      text not null,
  output      jsonb,
  reason      text,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index commands_device_page on commands (device_id, created_at desc);
