import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { UmosError, backoffDelay, type Logger } from "@umos/runtime";
import type { Bus } from "./bus";
import type { BusMessage, ConsumeOptions, Consumer, MessageHandler } from "./message";
import { declareFeatureQueue, declareWsQueue, type QueueType } from "./topology";

export interface Registration extends Consumer {
  attach(model: ChannelModel): Promise<void>;
}

interface ConsumerParts extends ConsumeOptions {
  prefetch: number;
  maxAttempts: number;
  queueType: QueueType;
  retryDelayMs: number;
  handler: MessageHandler;
  bus: Bus;
  log: Logger;
  /** Rebuilds the connection if the channel dies; returns the call that stops watching. */
  watch(owner: ChannelModel, channel: Channel, role: string): () => void;
  unregister(): void;
}

/**
 * A manual-ack consumer: ack after the handler's side effects; a permanent failure (an UmosError
 * that is not retryable) is dead-lettered with its reason and acked; any other failure is requeued
 * after a backoff, and dead-lettered once it failed `maxAttempts` times, so nothing loops forever.
 */
export function createConsumer(parts: ConsumerParts): Registration {
  const { handler, bus, log } = parts;
  const attempts = new Map<string, number>();
  let channel: Channel | null = null;
  let unwatch = () => {};
  let consumerTag: string | null = null;
  let queueName = typeof parts.queue === "string" ? parts.queue : "";
  let inFlight = 0;
  let stopped = false;
  let onIdle: (() => void) | null = null;

  async function handle(ch: Channel, raw: ConsumeMessage): Promise<void> {
    const message = toBusMessage(raw);
    try {
      await handler(message);
      settle(() => ch.ack(raw));
      if (raw.fields.redelivered) attempts.delete(attemptKey(message));
    } catch (err) {
      await fail(ch, raw, message, err);
    }
  }

  async function fail(ch: Channel, raw: ConsumeMessage, message: BusMessage, err: unknown): Promise<void> {
    const permanent = err instanceof UmosError && !err.retryable;
    // Stopping: hand the delivery straight back, without a backoff to sit out or a warning per message.
    if (!permanent && stopped) return settle(() => ch.nack(raw, false, true));
    const key = attemptKey(message);
    const count = (attempts.get(key) ?? 0) + 1;
    if (permanent || count >= parts.maxAttempts) {
      attempts.delete(key);
      const code = permanent ? err.code : "gave_up";
      const reason = permanent ? err.message : `failed ${count} times, last: ${describe(err)}`;
      try {
        await bus.deadLetter(message, code, reason, queueName);
        settle(() => ch.ack(raw));
        log.warn("dead-lettered", { queue: queueName, routingKey: message.routingKey, code, reason });
      } catch (dlErr) {
        log.error("could not dead-letter; requeueing", { err: dlErr });
        settle(() => ch.nack(raw, false, true));
      }
      return;
    }
    attempts.set(key, count);
    if (attempts.size > 10_000) attempts.delete(attempts.keys().next().value!);
    log.warn("handler failed; requeueing", { queue: queueName, attempt: count, err: describe(err) });
    await Bun.sleep(backoffDelay(count, parts.retryDelayMs, 5_000));
    settle(() => ch.nack(raw, false, true));
  }

  /** A channel that died under us already returned the delivery to the queue; settling it is moot. */
  function settle(action: () => void): void {
    try {
      action();
    } catch {
      /* channel closed: the broker redelivers */
    }
  }

  return {
    async attach(model) {
      if (stopped) return;
      const ch = await model.createChannel();
      unwatch = parts.watch(model, ch, `consumer ${queueName || "ws"}`);
      await ch.prefetch(parts.prefetch);
      if (typeof parts.queue !== "string") queueName = await declareWsQueue(ch, parts.queue.wsInstance);
      else await declareFeatureQueue(ch, queueName, parts.queueType);
      const reply = await ch.consume(
        queueName,
        (raw) => {
          if (raw === null) return log.warn("consumer cancelled by the broker", { queue: queueName });
          inFlight++;
          void handle(ch, raw).finally(() => {
            inFlight--;
            if (inFlight === 0) onIdle?.();
          });
        },
        { noAck: false },
      );
      channel = ch;
      consumerTag = reply.consumerTag;
      log.info("consuming", { queue: queueName, prefetch: parts.prefetch });
    },

    async stop() {
      stopped = true;
      parts.unregister();
      const ch = channel;
      if (ch && consumerTag) await ch.cancel(consumerTag).catch(() => {});
      if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
      unwatch();
      if (ch) await ch.close().catch(() => {});
      channel = null;
    },
  };
}

function toBusMessage(raw: ConsumeMessage): BusMessage {
  return {
    routingKey: raw.fields.routingKey,
    body: raw.content,
    headers: (raw.properties.headers ?? {}) as Record<string, unknown>,
    messageId: raw.properties.messageId as string | undefined,
    contentType: raw.properties.contentType as string | undefined,
    redelivered: raw.fields.redelivered,
  };
}

function attemptKey(message: BusMessage): string {
  return message.messageId ?? `${message.routingKey}:${Bun.hash(message.body)}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
