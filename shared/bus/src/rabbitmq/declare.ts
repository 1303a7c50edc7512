import type { Channel } from "amqplib";
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, HEADERS, REPLAY_EXCHANGE, wsQueueName } from "@umos/contracts";
import { featureQueue, WORK_QUEUES, WS_BINDING } from "../topology";
import type { QueueType } from "../types";

/**
 * Declares the whole spine. Idempotent: asserting an existing exchange or queue with the same
 * arguments is a no-op, so every service runs it at every (re)connect.
 */
export async function declareTopology(channel: Channel, queueType: QueueType): Promise<void> {
  await channel.assertExchange(EXCHANGE, "topic", { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, "topic", { durable: true });
  await channel.assertExchange(REPLAY_EXCHANGE, "headers", { durable: true });
  await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true, arguments: queueArguments(queueType, false) });
  await channel.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, "#");
  for (const { queue, binding } of WORK_QUEUES) {
    await channel.assertQueue(queue, { durable: true, arguments: queueArguments(queueType, true) });
    await channel.bindQueue(queue, EXCHANGE, binding);
    await bindForReplay(channel, queue);
  }
}

/** Declares a feature queue (FEATURE_QUEUES) with its bindings; a no-op for any other queue. */
export async function declareFeatureQueue(channel: Channel, queue: string, queueType: QueueType): Promise<void> {
  const feature = featureQueue(queue);
  if (!feature) return;
  await channel.assertQueue(queue, { durable: true, arguments: queueArguments(queueType, true) });
  for (const binding of feature.bindings) await channel.bindQueue(queue, EXCHANGE, binding);
  await bindForReplay(channel, queue);
}

/** A message on REPLAY_EXCHANGE reaches this queue alone when its `replay-queue` header names it. */
function bindForReplay(channel: Channel, queue: string) {
  return channel.bindQueue(queue, REPLAY_EXCHANGE, "", { "x-match": "all", [HEADERS.replayQueue]: queue });
}

/**
 * One iot-ws replica's queue: exclusive and non-durable, since live push needs no disk and
 * persistence is the broker's largest per-message cost (docs/findings.md). It dies with its connection.
 */
export async function declareWsQueue(channel: Channel, instance: string): Promise<string> {
  const queue = wsQueueName(instance);
  await channel.assertQueue(queue, {
    exclusive: true,
    durable: false,
    autoDelete: true,
    arguments: { "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE },
  });
  await channel.bindQueue(queue, EXCHANGE, WS_BINDING);
  return queue;
}

function queueArguments(queueType: QueueType, deadLetters: boolean): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (queueType === "quorum") args["x-queue-type"] = "quorum";
  if (deadLetters) args["x-dead-letter-exchange"] = DEAD_LETTER_EXCHANGE;
  return args;
}
