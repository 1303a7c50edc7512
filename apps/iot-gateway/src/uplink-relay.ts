import type { Bus } from "@umos/bus";
import { GATEWAY_EDGE, HEADERS, routingKey } from "@umos/contracts";
import { backoffDelay, type Logger } from "@umos/core";
import { routeTopic } from "@umos/vendors";
import type { MqttConnection } from "./mqtt/connection";
import type { InboundPublish } from "./mqtt/publish-codec";
import type { SpooledFrame } from "./spool/spool";
import type { StoreAndForward } from "./spool/store-and-forward";

interface Route {
  routingKey: string;
  deviceId: string;
  vendor: string;
}

/** Bounded so a flood of distinct junk topics cannot grow memory; real fleets fit many times over. */
const ROUTE_CACHE_LIMIT = 100_000;

const UNROUTABLE_KEY = "iot.unknown.device";

/** Backoff between tries of a frame RabbitMQ did not confirm. */
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2000;

function frameHeaders(target: Route, topic: string, receivedAt: number): Record<string, unknown> {
  return { [HEADERS.deviceId]: target.deviceId, [HEADERS.vendor]: target.vendor, [HEADERS.mqttTopic]: topic, [HEADERS.receivedAt]: receivedAt };
}

export interface UplinkRelay {
  /** `ack` runs once the frame is safe (confirmed or spooled): its PUBACK, and its bytes released. */
  onPublish(connection: MqttConnection, packet: InboundPublish, ack: () => void): void;
  readonly inFlight: number;
  /** Resolves once every relayed message has been confirmed or given up. */
  drain(): Promise<void>;
}

/**
 * Device -> RabbitMQ. The payload bytes go to the AMQP publish as they came off the socket, never
 * parsed; the topic alone decides the routing key (through a cache). A QoS 1 message is
 * acknowledged to the broker only after RabbitMQ confirmed it (docs/design.md §3); one that is not
 * confirmed is published again until it is, and a crash meanwhile leaves it with the broker.
 * With a spool (edge store and forward) such a frame is spooled instead, and so is every frame that
 * arrives while RabbitMQ is unreachable or the spool is not yet empty; the direct path is unchanged.
 */
export function createUplinkRelay(
  bus: Bus,
  log: Logger,
  maxPayloadBytes = Number.POSITIVE_INFINITY,
  spool: StoreAndForward | null = null,
  /** Told each routed frame's device, for `iot_devices_active`. */
  onDevice: (deviceId: string, receivedAt: number) => void = () => {},
): UplinkRelay {
  const routes = new Map<string, Route | null>();
  let inFlight = 0;
  let onIdle: (() => void) | null = null;
  let retrying = 0;
  let draining = false;

  function route(topic: string): Route | null {
    let cached = routes.get(topic);
    if (cached !== undefined) return cached;
    const found = routeTopic(topic);
    cached = found ? { routingKey: routingKey(found.vendor, "device", found.action), deviceId: found.deviceId, vendor: found.vendor } : null;
    if (routes.size >= ROUTE_CACHE_LIMIT) routes.clear();
    routes.set(topic, cached);
    return cached;
  }

  // Arrival order across the direct path and the spool; carries on from what a restart found spooled.
  let nextSeq = spool?.nextSeq() ?? 0;

  function deadLetterReason(packet: InboundPublish, oversized: boolean): [code: string, reason: string] {
    return oversized
      ? ["payload_too_large", `payload of ${packet.payload.byteLength} bytes on '${packet.topic}' exceeds gateway.maxPayloadBytes (${maxPayloadBytes})`]
      : ["unroutable_topic", `no vendor adapter takes MQTT topic '${packet.topic}'`];
  }

  /**
   * A frame the gateway refuses, as its dead letter: the device it names, and only the head of an
   * oversized payload, since the broker may hand over up to 256 MiB, past RabbitMQ's message size
   * limit, and a dead letter RabbitMQ refused would bring the frame back from the broker forever.
   */
  function refused(packet: InboundPublish, target: Route | null, oversized: boolean, receivedAt: number) {
    const headers: Record<string, unknown> = target
      ? frameHeaders(target, packet.topic, receivedAt)
      : { [HEADERS.mqttTopic]: packet.topic, [HEADERS.receivedAt]: receivedAt };
    if (oversized) headers[HEADERS.originalSize] = packet.payload.byteLength;
    const body = oversized ? packet.payload.subarray(0, maxPayloadBytes) : packet.payload;
    return { routingKey: target?.routingKey ?? UNROUTABLE_KEY, headers, body };
  }

  function spooled(seq: number, packet: InboundPublish, target: Route | null, oversized: boolean, messageId: string, receivedAt: number): SpooledFrame {
    if (target && !oversized)
      return { seq, routingKey: target.routingKey, messageId, headers: frameHeaders(target, packet.topic, receivedAt), payload: packet.payload };
    const [code, reason] = deadLetterReason(packet, oversized);
    const { routingKey, headers, body } = refused(packet, target, oversized, receivedAt);
    return { seq, routingKey, messageId, headers, payload: body, deadLetter: { code, reason } };
  }

  /** One attempt to hand a frame to RabbitMQ; resolves on its confirm. */
  function relayOnce(packet: InboundPublish, target: Route | null, oversized: boolean, messageId: string, receivedAt: number): Promise<void> {
    if (target && !oversized) return bus.publish(target.routingKey, packet.payload, { messageId, headers: frameHeaders(target, packet.topic, receivedAt) });
    return bus.deadLetter(
      { ...refused(packet, target, oversized, receivedAt), messageId, contentType: undefined, redelivered: false },
      ...deadLetterReason(packet, oversized),
      GATEWAY_EDGE,
    );
  }

  /**
   * Publishes a frame again, same message-id, until RabbitMQ confirms it; its PUBACK waits in order.
   * Dropping the MQTT connection instead (as before) made the broker resend the whole window each
   * time, while the old connection's publishes were still queued for the reconnect: a RabbitMQ
   * restart turned 2,400 reports into ~21,000 frames (fault suite). The broker holds the rest
   * meanwhile (Receive Maximum). Stops when the connection that brought the frame is gone (the
   * broker resends it) or the gateway is stopping.
   */
  async function retryUntilConfirmed(
    connection: MqttConnection,
    packet: InboundPublish,
    target: Route | null,
    oversized: boolean,
    messageId: string,
    receivedAt: number,
    ack: () => void,
    firstError: unknown,
  ): Promise<void> {
    if (retrying++ === 0) log.warn("RabbitMQ did not confirm device frames; publishing them again until it does", { topic: packet.topic, err: firstError });
    try {
      for (let attempt = 1; !draining && connection.connected; attempt++) {
        await Bun.sleep(backoffDelay(attempt, RETRY_INITIAL_MS, RETRY_MAX_MS));
        try {
          await relayOnce(packet, target, oversized, messageId, receivedAt);
          ack();
          return;
        } catch {
          // still unreachable: the bus waits for the connection on the next attempt
        }
      }
    } finally {
      if (--retrying === 0) log.info("RabbitMQ confirms device frames again");
    }
  }

  function settled(): void {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  }

  return {
    onPublish(connection, packet, ack) {
      const receivedAt = Date.now();
      const messageId = Bun.randomUUIDv7();
      const target = route(packet.topic);
      if (target) onDevice(target.deviceId, receivedAt);
      const payload = packet.payload;
      const seq = nextSeq++;
      const oversized = payload.byteLength > maxPayloadBytes;
      if (spool && (spool.engaged || !bus.isConnected())) return spool.accept(spooled(seq, packet, target, oversized, messageId, receivedAt), ack);
      inFlight++;
      spool?.directStarted();
      relayOnce(packet, target, oversized, messageId, receivedAt).then(
        () => {
          ack();
          spool?.directSettled();
          settled();
        },
        (err: unknown) => {
          if (spool) {
            // Into the spool under its arrival number before forwarding may start, so order holds.
            spool.accept(spooled(seq, packet, target, oversized, messageId, receivedAt), ack);
            spool.directSettled();
            return settled();
          }
          void retryUntilConfirmed(connection, packet, target, oversized, messageId, receivedAt, ack, err).finally(settled);
        },
      );
    },
    get inFlight() {
      return inFlight;
    },
    drain() {
      draining = true;
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
    },
  };
}
