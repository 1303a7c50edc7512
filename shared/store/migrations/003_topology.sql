-- Gateways and their sub-devices (a DJI dock and its aircraft): commands to a sub-device go
-- through its gateway, and the gateway's topology reports set the sub-devices' presence.
alter table devices add column parent_id text references devices (id) on delete set null;
create index devices_parent on devices (parent_id) where parent_id is not null;
