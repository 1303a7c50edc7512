-- Dead letters kept for inspection and replay (docs/operations.md, Dead letters). iot-uplink archives every
-- message of the iot-dead-letter queue here; iot-api lists, replays and deletes them.

create table dead_letters (
  -- UUIDv7 given when archived: time-ordered, so it pages.
  id                uuid primary key,
  -- A hash of the dead-lettered AMQP message (routing key, properties, headers, body): a
  -- redelivery of the same message is stored once.
  dedupe_key        text not null unique,
  -- The queue the message died in (x-dead-letter-queue, or RabbitMQ's x-first-death-queue).
  queue             text not null,
  code              text not null,
  reason            text not null,
  routing_key       text not null,
  message_id        text,
  content_type      text,
  device_id         text,
  -- The message's headers as they arrived, JSON-safe.
  headers           jsonb not null,
  -- The body, cut at the archive limit when larger; payload_size is the size before any cut.
  payload           bytea not null,
  payload_size      integer not null,
  -- How many times this message had been replayed before this death.
  replay_count      integer not null default 0,
  dead_lettered_at  timestamptz not null,
  replayed_at       timestamptz
);
create index dead_letters_queue_code on dead_letters (queue, code, id desc);
create index dead_letters_device on dead_letters (device_id, id desc) where device_id is not null;
