import amqplib, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { DEAD_LETTER_EXCHANGE, EXCHANGE, HEADERS, REPLAY_EXCHANGE } from "@umos/contracts";
import { NotFoundError, UnavailableError } from "@umos/core";
import { deadLetterOptions } from "../delivery";
import type { Bus, BusOptions, PublishOptions } from "../types";
import { createConsumer, type Registration } from "./consumer";
import { corkWritesPerTurn } from "./cork";
import { declareTopology } from "./declare";

/**
 * Connects to RabbitMQ, declares the topology of docs/design.md §2 and keeps both alive: after a broker
 * restart it reconnects with backoff, declares again and re-attaches every consumer.
 */
export async function connectRabbitBus(options: BusOptions): Promise<Bus> {
  const { log } = options;
  const registrations = new Set<Registration>();
  let model: ChannelModel | null = null;
  let publishChannel: ConfirmChannel | null = null;
  let blocked: Promise<void> | null = null;
  let closing = false;
  let waiters: Array<() => void> = [];
  // Mandatory publishes the broker handed back as unroutable, by the correlation id each was sent
  // with: RabbitMQ sends basic.return before the confirm, so the confirm callback finds it here.
  const returned = new Set<string>();

  const ca = options.caFile ? [await Bun.file(options.caFile).bytes()].map((b) => Buffer.from(b)) : undefined;
  const connection = await amqplib.connect(options.url, {
    clientProperties: { connection_name: options.name },
    // amqplib hands these to tls.connect for amqps:// URLs; the host name is checked against the certificate.
    ...(ca ? { ca, servername: new URL(options.url).hostname } : {}),
    recovery: {
      initialDelay: options.reconnectInitialMs,
      maxDelay: options.reconnectMaxMs,
      maxRetries: Infinity,
      // Fail fast at start-up so a wrong URL stops the deployment instead of hanging it.
      initialMaxRetries: options.startOffline ? Infinity : 5,
      waitForConnect: !options.startOffline,
      setup: async (next: ChannelModel) => {
        corkWritesPerTurn(next);
        const channel = await next.createConfirmChannel();
        await declareTopology(channel, options.queueType);
        watchChannel(next, channel, "publisher");
        channel.on("drain", () => (blocked = null));
        channel.on("return", (msg: { properties: { correlationId?: string } }) => {
          if (msg.properties.correlationId) returned.add(msg.properties.correlationId);
        });
        publishChannel = channel;
        model = next;
        for (const registration of registrations) await registration.attach(next);
      },
    },
  });
  connection.on("connect", () => {
    log.info("connected to RabbitMQ");
    for (const wake of waiters.splice(0)) wake();
  });
  connection.on("disconnect", (err: Error) => {
    model = null;
    publishChannel = null;
    if (!closing) log.warn("lost RabbitMQ connection; reconnecting", { err });
  });
  connection.on("reconnect-scheduled", (info: { attempt: number; delay: number }) =>
    log.info("reconnect scheduled", { attempt: info.attempt, delayMs: info.delay }),
  );
  connection.on("error", (err: Error) => log.warn("RabbitMQ connection error", { err }));
  // Waited for, the first connection came before the listener above; offline, it comes through it.
  if (!options.startOffline) log.info("connected to RabbitMQ");

  /** A channel closed under a live connection (a broker-side channel error) is rebuilt by recycling the connection. */
  function watchChannel(owner: ChannelModel, channel: Channel, role: string): () => void {
    channel.on("error", (err: Error) => log.warn(`${role} channel error`, { err }));
    const onClose = () => {
      if (closing || model !== owner) return;
      log.warn(`${role} channel closed; recycling the connection`);
      owner.close().catch(() => {});
    };
    channel.on("close", onClose);
    return () => channel.off("close", onClose);
  }

  function whenConnected(): Promise<void> {
    if (publishChannel) return Promise.resolve();
    const waitMs = options.publishWaitMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== wake);
        reject(new UnavailableError(`RabbitMQ unreachable for ${waitMs} ms`));
      }, waitMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      waiters.push(wake);
    });
  }

  function publishTo(exchange: string, routingKey: string, body: Uint8Array, opts: PublishOptions): Promise<void> {
    // The gateway's hot path: connected and not held back, so publish in this call, without awaiting.
    if (publishChannel && !blocked && !closing) return publishOn(publishChannel, exchange, routingKey, body, opts);
    return publishWhenReady(exchange, routingKey, body, opts);
  }

  async function publishWhenReady(exchange: string, routingKey: string, body: Uint8Array, opts: PublishOptions): Promise<void> {
    if (closing) throw new UnavailableError("bus is closing");
    if (!publishChannel) await whenConnected();
    if (blocked) await blocked;
    const channel = publishChannel;
    if (!channel) throw new UnavailableError("RabbitMQ connection lost before publishing");
    return publishOn(channel, exchange, routingKey, body, opts);
  }

  /** Resolves on the broker's confirm. The payload goes to amqplib as it is: a Buffer view, never copied here. */
  function publishOn(channel: ConfirmChannel, exchange: string, routingKey: string, body: Uint8Array, opts: PublishOptions): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const target = opts.queue;
    const token = target ? Bun.randomUUIDv7() : undefined;
    return new Promise<void>((resolve, reject) => {
      const confirmed = (err: unknown) => {
        if (err) return reject(new UnavailableError(`RabbitMQ did not confirm ${routingKey}: ${String(err)}`));
        if (token && returned.delete(token)) return reject(new NotFoundError(`no queue '${target}' is bound to ${REPLAY_EXCHANGE}`));
        resolve();
      };
      const writable = channel.publish(
        target ? REPLAY_EXCHANGE : exchange,
        routingKey,
        content,
        {
          persistent: opts.persistent ?? true,
          messageId: opts.messageId,
          contentType: opts.contentType,
          headers: target ? { ...opts.headers, [HEADERS.replayQueue]: target } : opts.headers,
          ...(token ? { mandatory: true, correlationId: token } : {}),
        },
        confirmed,
      );
      // amqplib buffers past a full socket; wait for 'drain' before the next write rather than grow without bound.
      if (!writable && !blocked) blocked = new Promise((r) => channel.once("drain", () => r()));
    });
  }

  const bus: Bus = {
    publish: (routingKey, body, opts = {}) => publishTo(EXCHANGE, routingKey, body, opts),

    deadLetter: (message, code, reason, queue) =>
      publishTo(DEAD_LETTER_EXCHANGE, message.routingKey, message.body, deadLetterOptions(message, code, reason, queue)),

    async consume(consumeOptions, handler) {
      const registration = createConsumer({
        ...consumeOptions,
        prefetch: consumeOptions.prefetch ?? options.prefetch,
        maxAttempts: consumeOptions.maxAttempts ?? options.maxAttempts,
        queueType: options.queueType,
        retryDelayMs: options.reconnectInitialMs,
        handler,
        bus,
        log,
        watch: watchChannel,
        unregister: () => registrations.delete(registration),
      });
      registrations.add(registration);
      if (model) await registration.attach(model);
      return registration;
    },

    isConnected: () => publishChannel !== null,
    probe: { name: "rabbitmq", check: () => publishChannel !== null },

    async close() {
      for (const registration of [...registrations]) await registration.stop();
      closing = true;
      await connection.close().catch(() => {});
    },
  };
  return bus;
}
