-- Firmware packages (docs/fleet.md): the file lives in iot-api's package storage under the id;
-- the row says what it is and its checksums, computed while it was uploaded.
create table firmware_packages (
  id          uuid primary key,
  vendor      text not null check (vendor in ('dji', 'tuya', 'generic')),
  -- The thing model (or product) the package is for; null: any device of the vendor.
  model       text check (length(model) between 1 and 128),
  version     text not null check (version ~ '^[A-Za-z0-9._+-]{1,64}$'),
  file_name   text not null check (file_name ~ '^[A-Za-z0-9._+-]{1,200}$'),
  size        bigint not null check (size >= 0),
  sha256      text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  md5         text not null check (md5 ~ '^[0-9a-f]{32}$'),
  notes       text not null default '' check (length(notes) <= 4000),
  created_by  text,
  created_at  timestamptz not null default now()
);
create unique index firmware_packages_version on firmware_packages (vendor, coalesce(model, ''), version);
