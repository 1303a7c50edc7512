import type { Logger, Probe } from "@umos/core";

/** classic for development; quorum in production (replicated). */
export type QueueType = "classic" | "quorum";

/** A message as a consumer sees it; the body is the payload bytes, untouched. */
export interface BusMessage {
  routingKey: string;
  body: Buffer;
  headers: Record<string, unknown>;
  messageId: string | undefined;
  contentType: string | undefined;
  /** A hint only (RabbitMQ reliability guide): this delivery may have been seen before. */
  redelivered: boolean;
}

export interface PublishOptions {
  messageId?: string;
  contentType?: string;
  headers?: Record<string, unknown>;
  /** Default true: written to disk on durable queues. Live-only traffic may pass false. */
  persistent?: boolean;
  /**
   * Deliver to this one durable queue only, keeping the routing key (the replay of a dead letter),
   * instead of to every queue bound to the key. Rejects with NotFoundError if no such queue is bound.
   */
  queue?: string;
}

export interface Publisher {
  /** Resolves once the broker confirmed the message; rejects if it nacked or the connection died first. */
  publish(routingKey: string, body: Uint8Array, options?: PublishOptions): Promise<void>;
}

export type MessageHandler = (message: BusMessage) => Promise<void>;

export interface ConsumeOptions {
  /** A durable queue of the topology, or `{ wsInstance }` for a replica's own exclusive queue. */
  queue: string | { wsInstance: string };
  /** Deliveries in flight to this consumer; defaults to the bus's prefetch. */
  prefetch?: number;
  /**
   * Tries of a retryable failure before the dead letter; defaults to the bus's. Infinity suits a
   * consumer whose only retryable failure is its own store being down (telemetry): it must wait, not give up.
   */
  maxAttempts?: number;
}

export interface Consumer {
  /** Stops taking deliveries and waits for those in flight to settle. */
  stop(): Promise<void>;
}

export interface BusOptions {
  url: string;
  /** For amqps://: a CA bundle (PEM file) to trust besides the system's. */
  caFile?: string;
  /** Shown as the connection name in RabbitMQ's management UI. */
  name: string;
  queueType: QueueType;
  prefetch: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** Retryable failures of one message before it is dead-lettered. */
  maxAttempts: number;
  /** How long a publish waits for a lost connection to come back before it fails. */
  publishWaitMs?: number;
  /**
   * Resolve at once and connect in the background, retrying for ever, instead of failing start-up
   * when RabbitMQ is unreachable: for an edge gateway that spools until its uplink returns.
   */
  startOffline?: boolean;
  log: Logger;
}

export interface Bus extends Publisher {
  consume(options: ConsumeOptions, handler: MessageHandler): Promise<Consumer>;
  /** Publishes a copy to iot.dlx with the reason in headers; the caller then acks the original. */
  deadLetter(message: BusMessage, code: string, reason: string, queue: string): Promise<void>;
  isConnected(): boolean;
  readonly probe: Probe;
  close(): Promise<void>;
}
