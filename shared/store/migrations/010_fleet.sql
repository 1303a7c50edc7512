-- Fleet operations (docs/fleet.md): tags on devices, static and dynamic device groups, and the
-- indexes the device query language (shared/store/src/device-query.ts) leans on.

alter table devices
  add column tags text[] not null default '{}' check (cardinality(tags) <= 32);
create index devices_tags on devices using gin (tags);
create index devices_metadata on devices using gin (metadata jsonb_path_ops);
create index devices_vendor on devices (vendor, id);

-- A query on one reported property (`state.firmware_version < "10.1.8"`) reads that property's
-- rows only. Neither column changes on a report, so the uplink's upserts stay HOT updates.
create index device_state_property on device_state (property, device_id);

-- Text ordered as people order versions: digit runs compare as numbers, so '10.1.8' > '9.2'.
-- Runs longer than 20 digits are cut to their first 20.
create function natural_key(t text) returns text language sql immutable strict parallel safe as $$
  select coalesce(string_agg(case when m[1] ~ '^[0-9]' then lpad(ltrim(m[1], '0'), 20, '0') else m[1] end, '' order by n), '')
  from regexp_matches(t, '[0-9]+|[^0-9]+', 'g') with ordinality as r(m, n)
$$;

-- query null: a static group, whose members are listed; otherwise a dynamic group, whose members
-- are the devices its query matches when it is read. refs: the groups the query names, so a group
-- another one names is not deleted from under it.
create table device_groups (
  id           text primary key check (id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  name         text not null default '' check (length(name) <= 256),
  description  text not null default '' check (length(description) <= 2000),
  query        text check (length(query) <= 2000),
  refs         text[] not null default '{}',
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);
create index device_groups_refs on device_groups using gin (refs);

create table device_group_members (
  group_id   text not null references device_groups (id) on delete cascade,
  device_id  text not null references devices (id) on delete cascade,
  added_at   timestamptz not null default now(),
  primary key (group_id, device_id)
);
create index device_group_members_device on device_group_members (device_id);
