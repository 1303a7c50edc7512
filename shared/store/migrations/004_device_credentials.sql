-- One MQTT password per device, stored only as a Bun.password (argon2id) hash.
create table device_credentials (
  device_id    text primary key references devices (id) on delete cascade,
  secret_hash  text not null,
  created_at   timestamptz not null default now(),
  rotated_at   timestamptz not null default now()
);
