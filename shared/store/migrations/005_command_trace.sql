-- The W3C traceparent of the request that created a command: a device that does not echo trace
-- context (DJI, Tuya) still has its reply, and a command sent later by the scheduler, join the
-- command's trace (docs/operations.md).
alter table commands add column traceparent text;
