import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "@umos/core";
import { createDelivery } from "../delivery";
import type { Bus, BusMessage, ConsumeOptions, Consumer, MessageHandler, QueueType } from "../types";
import { declareFeatureQueue, declareWsQueue } from "./declare";

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

/** A manual-ack consumer on its own channel, settling deliveries by the policy of ./delivery. */
export function createConsumer(parts: ConsumerParts): Registration {
  const { log } = parts;
  let channel: Channel | null = null;
  let unwatch = () => {};
  let consumerTag: string | null = null;
  let queueName = typeof parts.queue === "string" ? parts.queue : "";
  let stopped = false;
  const delivery = createDelivery({ ...parts, queue: () => queueName });

  function handle(ch: Channel, raw: ConsumeMessage): void {
    delivery.deliver(toBusMessage(raw), {
      ack: () => settle(() => ch.ack(raw)),
      requeue: () => settle(() => ch.nack(raw, false, true)),
    });
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
          handle(ch, raw);
        },
        { noAck: false },
      );
      channel = ch;
      consumerTag = reply.consumerTag;
      log.info("consuming", { queue: queueName, prefetch: parts.prefetch });
    },

    async stop() {
      stopped = true;
      delivery.stop();
      parts.unregister();
      const ch = channel;
      if (ch && consumerTag) await ch.cancel(consumerTag).catch(() => {});
      await delivery.idle();
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
