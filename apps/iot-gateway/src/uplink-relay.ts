import type { Bus } from "@umos/bus";
import { HEADERS, routingKey } from "@umos/contracts";
import type { Logger } from "@umos/runtime";
import { routeTopic } from "@umos/vendors";
import type { MqttConnection } from "./mqtt/connection";
import type { InboundPublish } from "./mqtt/publish-codec";

interface Route {
  routingKey: string;
  deviceId: string;
  vendor: string;
}

/** Bounded so a flood of distinct junk topics cannot grow memory; real fleets fit many times over. */
const ROUTE_CACHE_LIMIT = 100_000;

export interface UplinkRelay {
  onPublish(connection: MqttConnection, packet: InboundPublish, ack: (() => void) | null): void;
  readonly inFlight: number;
  /** Resolves once every relayed message has been confirmed or given up. */
  drain(): Promise<void>;
}

/**
 * Device -> RabbitMQ. The payload bytes go to the AMQP publish as they came off the socket, never
 * parsed; the topic alone decides the routing key (through a cache). A QoS 1 message is
 * acknowledged to the broker only after RabbitMQ confirmed it (DESIGN §3); if it cannot be
 * confirmed the MQTT connection is dropped, so the broker redelivers from the persistent session.
 */
export function createUplinkRelay(bus: Bus, log: Logger, maxPayloadBytes = Number.POSITIVE_INFINITY): UplinkRelay {
  const routes = new Map<string, Route | null>();
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  function route(topic: string): Route | null {
    let cached = routes.get(topic);
    if (cached !== undefined) return cached;
    const found = routeTopic(topic);
    cached = found ? { routingKey: routingKey(found.vendor, "device", found.action), deviceId: found.deviceId, vendor: found.vendor } : null;
    if (routes.size >= ROUTE_CACHE_LIMIT) routes.clear();
    routes.set(topic, cached);
    return cached;
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
      const payload = packet.payload;
      inFlight++;
      const oversized = payload.byteLength > maxPayloadBytes;
      const confirmed = target && !oversized
        ? bus.publish(target.routingKey, payload, {
            messageId,
            headers: {
              [HEADERS.deviceId]: target.deviceId,
              [HEADERS.vendor]: target.vendor,
              [HEADERS.mqttTopic]: packet.topic,
              [HEADERS.receivedAt]: receivedAt,
            },
          })
        : bus.deadLetter(
            {
              routingKey: target?.routingKey ?? "iot.unknown.device",
              body: payload,
              headers: { [HEADERS.mqttTopic]: packet.topic, [HEADERS.receivedAt]: receivedAt },
              messageId,
              contentType: undefined,
              redelivered: false,
            },
            oversized ? "payload_too_large" : "unroutable_topic",
            oversized
              ? `payload of ${payload.byteLength} bytes on '${packet.topic}' exceeds gateway.maxPayloadBytes (${maxPayloadBytes})`
              : `no vendor adapter takes MQTT topic '${packet.topic}'`,
            "iot-gateway",
          );
      confirmed.then(
        () => {
          ack?.();
          settled();
        },
        (err: unknown) => {
          settled();
          log.warn("RabbitMQ did not confirm a device frame; the broker will redeliver", { topic: packet.topic, err });
          if (ack) connection.reset("a relayed frame was not confirmed by RabbitMQ");
        },
      );
    },
    get inFlight() {
      return inFlight;
    },
    drain() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
    },
  };
}
