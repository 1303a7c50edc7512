import { HEADERS, KINDS, routingKey, type Envelope } from "@umos/contracts";
import type { Alarm, AlarmChange } from "./alarm-row";
import { json, type Sql } from "./database";

/** Alarm events rows one flush transaction publishes at most. */
const FLUSH_ROWS = 200;

/** The event that announces an alarm's change: `iot.{vendor}.event.alarm.{raised|updated|cleared}` (docs/alarms.md). */
export function alarmEvent(alarm: Alarm, change: AlarmChange, by: string | null = null): { routingKey: string; envelope: Envelope } {
  const kind = change === "raised" ? KINDS.alarmRaised : change === "cleared" ? KINDS.alarmCleared : KINDS.alarmUpdated;
  return {
    routingKey: routingKey(alarm.vendor, "event", kind),
    envelope: {
      id: Bun.randomUUIDv7(),
      ts: Date.now(),
      vendor: alarm.vendor,
      // A platform alarm has no device: WebSocket clients take it with a filter on kinds, not devices.
      deviceId: alarm.deviceId ?? "",
      kind,
      data: { change, by, alarm },
    },
  };
}

/** Queues an alarm's event in the caller's transaction; the outbox flusher publishes it after the commit. */
export async function queueAlarmEvent(sql: Sql, alarm: Alarm, change: AlarmChange, by: string | null = null): Promise<void> {
  const { routingKey: key, envelope } = alarmEvent(alarm, change, by);
  await sql`insert into alarm_outbox (routing_key, message_id, device_id, body) values (${key}, ${envelope.id}, ${envelope.deviceId}, ${json(sql, envelope)})`;
}

export type OutboxPublish = (
  routingKey: string,
  body: Uint8Array,
  options: { messageId: string; contentType: string; headers: Record<string, unknown> },
) => Promise<void>;

/**
 * Publishes queued alarm events in order, each removed only once the broker confirmed it. Flushers
 * take turns on the rows (a second waits for the first to commit, then takes what is left), so an
 * alarm's raise is never announced after its clear. A crash after a publish and before the commit
 * publishes it again: consumers see the same message id twice (the notifier sends once per id and
 * channel). Returns how many were published.
 */
async function flushOnce(sql: Sql, publish: OutboxPublish): Promise<number> {
  return sql.begin(async (tx) => {
    const rows = await tx<{ id: string; routingKey: string; messageId: string; deviceId: string; body: unknown }[]>`
      select id, routing_key as "routingKey", message_id as "messageId", device_id as "deviceId", body
      from alarm_outbox order by id limit ${FLUSH_ROWS} for update`;
    for (const row of rows) {
      await publish(row.routingKey, Buffer.from(JSON.stringify(row.body)), {
        messageId: row.messageId,
        contentType: "application/json",
        headers: { [HEADERS.deviceId]: row.deviceId },
      });
    }
    if (rows.length) await tx`delete from alarm_outbox where id in ${tx(rows.map((r) => r.id))}`;
    return rows.length;
  });
}

/**
 * The outbox's flush for one process (iot-rules, iot-api): it publishes until the outbox is empty,
 * one flush at a time; one asked for while another runs runs once after it. A publish that fails
 * rejects and leaves the events in the outbox for the next flush: late, never lost.
 */
export function alarmOutboxFlusher(sql: Sql, publish: OutboxPublish): () => Promise<void> {
  let flushing: Promise<void> | null = null;
  let again = false;
  return () => {
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      try {
        do {
          again = false;
          while ((await flushOnce(sql, publish)) > 0);
        } while (again);
      } finally {
        flushing = null;
      }
    })();
    return flushing;
  };
}
