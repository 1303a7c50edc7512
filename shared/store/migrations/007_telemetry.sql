-- Telemetry in PostgreSQL (timeseries.kind: postgres; docs/telemetry.md). Points are partitioned by
-- day of their own timestamp: partitions are made as points arrive and dropped whole by retention.
-- series: 'p' a property's value, 'e' an event (value 1, text its data as JSON).
create table telemetry_points (
  device_id  text not null,
  series     "char" not null check (series in ('p', 'e')),
  name       text not null,
  ts         timestamptz not null,
  value      double precision,
  text       text,
  vendor     text not null,
  model      text,
  -- When the row was written: the roll-up job reads what was written since its last run by it.
  stored_at  timestamptz not null default clock_timestamp(),
  primary key (device_id, series, name, ts)
) partition by range (ts);
create index telemetry_points_stored on telemetry_points using brin (stored_at);

-- When each day of points was last written to: queries and the roll-up job look for points written
-- since the roll-ups' watermark only in the days written since then.
create table telemetry_days (
  day         date primary key,
  written_at  timestamptz not null
);

-- Roll-ups of numeric values per minute and per hour (count, min, max, sum, first, last), kept by
-- the roll-up job; partitioned by month of the window.
create table telemetry_rollup_1m (
  device_id  text not null,
  series     "char" not null,
  name       text not null,
  bucket     timestamptz not null,
  count      bigint not null,
  min        double precision not null,
  max        double precision not null,
  sum        double precision not null,
  first      double precision not null,
  first_ts   timestamptz not null,
  last       double precision not null,
  last_ts    timestamptz not null,
  primary key (device_id, series, name, bucket)
) partition by range (bucket);

create table telemetry_rollup_1h (like telemetry_rollup_1m including all) partition by range (bucket);

-- Every point written before done_until is in both roll-ups.
create table telemetry_rollup_progress (
  id          boolean primary key default true check (id),
  done_until  timestamptz not null
);
insert into telemetry_rollup_progress (done_until) values (now());

-- How long each kind of data is kept (null: for ever), changed at run time through the API.
create table retention_settings (
  kind        text primary key,
  days        integer check (days is null or days >= 1),
  updated_at  timestamptz not null default now(),
  updated_by  text not null
);

-- What retention removed, when and why ('expired' or 'disk_guard').
create table retention_log (
  id       bigint generated always as identity primary key,
  at       timestamptz not null default now(),
  kind     text not null,
  reason   text not null,
  removed  text not null,
  rows     bigint,
  bytes    bigint
);

-- Retention removes the spine's rows by age, in batches, through these.
create index message_log_received on message_log (received_at);
create index commands_updated on commands (updated_at) where status not in ('queued', 'sent');
create index dead_letters_at on dead_letters (dead_lettered_at);
