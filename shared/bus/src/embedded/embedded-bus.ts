import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE, HEADERS, REPLAY_EXCHANGE, wsQueueName } from "@umos/contracts";
import { NotFoundError, UnavailableError } from "@umos/core";
import { createDelivery, deadLetterOptions } from "../delivery";
import type { Bus, BusOptions, Consumer, PublishOptions } from "../types";
import { featureQueue, REPLAYABLE_QUEUES, WORK_QUEUES, WS_BINDING } from "../topology";
import type { Broker } from "./broker";
import { parseEmbeddedUrl } from "./embedded-url";
import { leaseBroker } from "./shared-broker";

/**
 * The bus of standalone mode: the topology of docs/design.md §2 on the embedded broker of `embedded:<path>`,
 * with the consumers' ack, retry and dead-letter policy of the RabbitMQ bus (../delivery.ts).
 * Options that only mean something to RabbitMQ (queueType, caFile, reconnectMaxMs, publishWaitMs,
 * startOffline) are ignored; reconnectInitialMs still paces retries, as it does there.
 */
export async function connectEmbeddedBus(options: BusOptions): Promise<Bus> {
  const { path, synchronous } = parseEmbeddedUrl(options.url);
  const { log } = options;
  const lease = leaseBroker(path, synchronous, log);
  const { broker } = lease;
  declareTopology(broker);
  const consumers = new Set<Consumer>();
  let closed = false;
  log.info("opened the embedded bus", { path, synchronous });

  function publishTo(exchange: string, routingKey: string, body: Uint8Array, opts: PublishOptions): Promise<void> {
    if (closed) return Promise.reject(new UnavailableError("bus is closing"));
    const target = opts.queue;
    if (target !== undefined && !(REPLAYABLE_QUEUES.includes(target) && broker.hasQueue(target)))
      return Promise.reject(new NotFoundError(`no queue '${target}' is bound to ${REPLAY_EXCHANGE}`));
    return broker.publish(
      exchange,
      {
        routingKey,
        // A copy: the caller may hand a view into a socket's buffer, which is reused before the turn's write.
        body: Buffer.from(body),
        headers: target === undefined ? { ...opts.headers } : { ...opts.headers, [HEADERS.replayQueue]: target },
        messageId: opts.messageId,
        contentType: opts.contentType,
      },
      target,
    );
  }

  const isConnected = () => !closed && broker.healthy();

  const bus: Bus = {
    publish: (routingKey, body, opts = {}) => publishTo(EXCHANGE, routingKey, body, opts),

    deadLetter: (message, code, reason, queue) =>
      publishTo(DEAD_LETTER_EXCHANGE, message.routingKey, message.body, deadLetterOptions(message, code, reason, queue)),

    async consume(consumeOptions, handler) {
      if (closed) throw new UnavailableError("bus is closing");
      const exclusive = typeof consumeOptions.queue !== "string";
      const queue = typeof consumeOptions.queue === "string" ? consumeOptions.queue : wsQueueName(consumeOptions.queue.wsInstance);
      const prefetch = consumeOptions.prefetch ?? options.prefetch;
      if (exclusive) broker.declareExclusive(queue, [{ exchange: EXCHANGE, pattern: WS_BINDING }], bus);
      const feature = featureQueue(queue);
      if (feature)
        broker.declareDurable(
          queue,
          feature.bindings.map((pattern) => ({ exchange: EXCHANGE, pattern })),
        );

      let stopped = false;
      const delivery = createDelivery({
        handler,
        bus,
        log,
        maxAttempts: consumeOptions.maxAttempts ?? options.maxAttempts,
        retryDelayMs: options.reconnectInitialMs,
        queue: () => queue,
      });
      const subscription = broker.subscribe(queue, prefetch, (received) => delivery.deliver(received.message, received));
      log.info("consuming", { queue, prefetch });

      const consumer: Consumer = {
        async stop() {
          if (stopped) return;
          stopped = true;
          delivery.stop();
          subscription.cancel();
          // Exclusive and auto-delete, as in RabbitMQ: the queue goes with its consumer.
          if (exclusive) broker.deleteQueue(queue);
          await delivery.idle();
          consumers.delete(consumer);
        },
      };
      consumers.add(consumer);
      return consumer;
    },

    isConnected,
    probe: { name: "embedded-bus", check: isConnected },

    async close() {
      if (closed) return;
      await Promise.all([...consumers].map((c) => c.stop()));
      closed = true;
      lease.release();
    },
  };
  return bus;
}

/** docs/design.md §2 on the embedded broker; idempotent, so every bus of the process runs it. */
function declareTopology(broker: Broker): void {
  broker.declareDurable(DEAD_LETTER_QUEUE, [{ exchange: DEAD_LETTER_EXCHANGE, pattern: "#" }]);
  for (const { queue, binding } of WORK_QUEUES) broker.declareDurable(queue, [{ exchange: EXCHANGE, pattern: binding }]);
}
