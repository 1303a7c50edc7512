-- Notification channels and what was delivered to them (docs/notifications.md).

-- config holds no secret: the webhook signing secret or SMTP password is `secret`, AES-256-GCM
-- ciphertext under a key derived from notifications.secretKey. device_ids null: every device.
create table notification_channels (
  id                uuid primary key,
  name              text not null check (length(name) between 1 and 200),
  kind              text not null check (kind in ('webhook', 'email')),
  enabled           boolean not null default true,
  config            jsonb not null,
  secret            text,
  triggers          text[] not null check (cardinality(triggers) > 0),
  min_severity      text check (min_severity in ('critical', 'major', 'minor', 'warning')),
  device_ids        text[],
  rate_per_minute   integer check (rate_per_minute >= 1),
  dedupe_window_ms  integer not null default 0 check (dedupe_window_ms >= 0),
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);

-- One row per event and channel: a redelivered or replayed event finds it and is not sent twice.
-- sending: claimed by a notifier that is sending it now (or crashed doing so; taken over once stale).
-- The rate limit and the dedupe window are counted from these rows, so they hold across replicas.
create table notification_deliveries (
  event_id    text not null,
  channel_id  uuid not null references notification_channels (id) on delete cascade,
  seq         bigint generated always as identity,
  trigger     text not null,
  alarm_id    uuid,
  status      text not null check (status in ('sending', 'sent', 'suppressed', 'failed')),
  attempts    integer not null default 0,
  detail      text,
  at          timestamptz not null default now(),
  primary key (event_id, channel_id)
);
create index notification_deliveries_recent on notification_deliveries (channel_id, at desc);
create index notification_deliveries_by_seq on notification_deliveries (channel_id, seq desc);
create index notification_deliveries_alarm on notification_deliveries (channel_id, alarm_id, trigger, at desc) where alarm_id is not null;
