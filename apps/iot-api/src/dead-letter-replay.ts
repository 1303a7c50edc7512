import { REPLAYABLE_QUEUES, type Publisher } from "@umos/bus";
import { GATEWAY_EDGE, HEADERS, QUEUES, parseRoutingKey } from "@umos/contracts";
import { ConflictError, NotFoundError } from "@umos/core";
import type { DeadLetter, DeadLetterRepository } from "@umos/store";
import { routeTopic } from "@umos/vendors";

/** Headers of the death itself, UMOS's and RabbitMQ's: a replayed message is sent as it was before it died. */
const DEATH_HEADERS = new Set<string>([
  HEADERS.deadLetterCode,
  HEADERS.deadLetterReason,
  HEADERS.deadLetterQueue,
  HEADERS.originalSize,
  HEADERS.replayQueue,
  "x-death",
  "x-first-death-queue",
  "x-first-death-reason",
  "x-first-death-exchange",
  "x-last-death-queue",
  "x-last-death-reason",
  "x-last-death-exchange",
]);

/**
 * Sends a dead letter's original bytes again to the one queue it died in, with its routing key,
 * message id and headers, the death headers stripped and `x-replay-count` raised. The row is
 * claimed (marked replayed) first, so two callers cannot both send it, and handed back if the
 * broker does not take the message.
 */
export function createDeadLetterReplay(publisher: Publisher, deadLetters: DeadLetterRepository) {
  return async function replay(id: string): Promise<DeadLetter> {
    const row = await deadLetters.get(id);
    const queue = replayQueue(row);
    if (row.payload.byteLength < row.payloadSize) {
      throw new ConflictError(`dead letter '${id}' kept only ${row.payload.byteLength} of its ${row.payloadSize} bytes; it cannot be replayed`);
    }
    const replayedAt = await deadLetters.claimReplay(id);
    try {
      await publisher.publish(row.routingKey, row.payload, {
        queue,
        messageId: row.messageId ?? undefined,
        contentType: row.contentType ?? undefined,
        headers: replayHeaders(row),
      });
    } catch (err) {
      await deadLetters.releaseReplay(id);
      if (err instanceof NotFoundError) throw new ConflictError(`queue '${queue}' does not exist (any more); dead letter '${id}' was not replayed`);
      throw err;
    }
    return { ...row, replayedAt };
  };
}

/**
 * Where a replay goes: the durable queue the message died in. A frame the gateway refused before it
 * reached the bus goes where the gateway would have sent it, the uplink queue; a live iot-ws
 * replica's queue, or anything else, takes no replays.
 */
export function replayQueue(row: Pick<DeadLetter, "id" | "queue" | "routingKey">): string {
  if (REPLAYABLE_QUEUES.includes(row.queue)) return row.queue;
  if (row.queue === GATEWAY_EDGE && parseRoutingKey(row.routingKey)?.stage === "device") return QUEUES.uplink;
  throw new ConflictError(`dead letter '${row.id}' died in '${row.queue}', which takes no replays; replayable: ${REPLAYABLE_QUEUES.join(", ")}`);
}

export function replayHeaders(row: Pick<DeadLetter, "headers" | "replayCount">): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row.headers)) if (!DEATH_HEADERS.has(key)) headers[key] = value;
  // A frame refused at the gateway carries its MQTT topic but not the device the topic names.
  const topic = headers[HEADERS.mqttTopic];
  const route = headers[HEADERS.deviceId] === undefined && typeof topic === "string" ? routeTopic(topic) : undefined;
  if (route) Object.assign(headers, { [HEADERS.deviceId]: route.deviceId, [HEADERS.vendor]: route.vendor });
  headers[HEADERS.replayCount] = row.replayCount + 1;
  return headers;
}
