import type { Publisher } from "@umos/bus";
import type { Logger } from "@umos/core";
import { alarmOutboxFlusher, type Sql } from "@umos/store";

/**
 * Publishes the alarm events a change queued in its transaction (docs/alarms.md), for WebSocket
 * clients and the notifier. Started after the commit and not awaited: the answer is the committed
 * change, and a broker that is slow or away must not turn it into an error. An event that fails
 * to go out stays in the outbox for the next flush, here or iot-rules' periodic one.
 */
export function startingAlarmFlush(sql: Sql, publisher: Publisher, log: Logger): () => void {
  const flush = alarmOutboxFlusher(sql, publisher.publish.bind(publisher));
  return () => {
    flush().catch((err) => log.warn("alarm events stay in the outbox until the next flush", { err }));
  };
}
