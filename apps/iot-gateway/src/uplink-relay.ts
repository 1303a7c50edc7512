import { HEADERS, routingKey } from "@umos/contracts";
import type { Clock } from "@umos/core";
import { routeTopic } from "@umos/vendors";
import type { Frame, FrameSink } from "./frame";
import type { MqttConnection } from "./mqtt/connection";
import type { InboundPublish } from "./mqtt/publish-codec";

interface Route {
  routingKey: string;
  deviceId: string;
  vendor: string;
}

/** Bounded so a flood of distinct junk topics cannot grow memory; real fleets fit many times over. */
const ROUTE_CACHE_LIMIT = 100_000;

const UNROUTABLE_KEY = "iot.unknown.device";

export interface UplinkRelay {
  /** `ack` runs once the frame is safe (confirmed or spooled): its PUBACK, and its bytes released. */
  onPublish(connection: MqttConnection, packet: InboundPublish, ack: () => void): void;
  readonly inFlight: number;
  /** Resolves once every relayed message has been confirmed or given up. */
  drain(): Promise<void>;
}

export interface UplinkRelayOptions {
  /** Where frames go, in arrival order: straight to RabbitMQ, or through the edge spool. */
  sink: FrameSink;
  /** Larger payloads are dead-lettered, cut to this size, instead of relayed. */
  maxPayloadBytes: number;
  /** Told each routed frame's device, for `iot_devices_seen`. */
  onDevice: (deviceId: string, receivedAt: number) => void;
  /** Stamps each frame's arrival (header x-received-at). */
  clock: Clock;
}

/**
 * Device -> RabbitMQ, as far as the gateway decides anything: the topic alone routes a frame
 * (through a cache), its payload bytes go on as they came off the socket, never parsed, and a frame
 * the gateway refuses (an unknown topic, a payload too large) becomes its dead letter. Each PUBLISH
 * is one Frame put into the sink, which owns ordering, confirms and retries.
 */
export function createUplinkRelay({ sink, maxPayloadBytes, onDevice, clock }: UplinkRelayOptions): UplinkRelay {
  const routes = new Map<string, Route | null>();
  // Arrival order, carried on from what a restart found spooled.
  let nextSeq = sink.nextSeq();

  function route(topic: string): Route | null {
    let cached = routes.get(topic);
    if (cached !== undefined) return cached;
    const found = routeTopic(topic);
    cached = found ? { routingKey: routingKey(found.vendor, "device", found.action), deviceId: found.deviceId, vendor: found.vendor } : null;
    if (routes.size >= ROUTE_CACHE_LIMIT) routes.clear();
    routes.set(topic, cached);
    return cached;
  }

  /**
   * A frame, or the dead letter of one the gateway refuses: the device it names, and only the head
   * of an oversized payload, since the broker may hand over up to 256 MiB, past RabbitMQ's message
   * size limit, and a dead letter RabbitMQ refused would bring the frame back from the broker forever.
   */
  function frameOf(connection: MqttConnection, packet: InboundPublish, target: Route | null, receivedAt: number, safe: () => void): Frame {
    const base = { seq: nextSeq++, messageId: Bun.randomUUIDv7(), connection, safe };
    const oversized = packet.payload.byteLength > maxPayloadBytes;
    const headers: Record<string, unknown> = target
      ? { [HEADERS.deviceId]: target.deviceId, [HEADERS.vendor]: target.vendor, [HEADERS.mqttTopic]: packet.topic, [HEADERS.receivedAt]: receivedAt }
      : { [HEADERS.mqttTopic]: packet.topic, [HEADERS.receivedAt]: receivedAt };
    if (target && !oversized) return { ...base, routingKey: target.routingKey, headers, payload: packet.payload };
    if (!oversized) {
      return {
        ...base,
        routingKey: UNROUTABLE_KEY,
        headers,
        payload: packet.payload,
        deadLetter: { code: "unroutable_topic", reason: `no vendor adapter takes MQTT topic '${packet.topic}'` },
      };
    }
    headers[HEADERS.originalSize] = packet.payload.byteLength;
    const reason = `payload of ${packet.payload.byteLength} bytes on '${packet.topic}' exceeds gateway.maxPayloadBytes (${maxPayloadBytes})`;
    return {
      ...base,
      routingKey: target?.routingKey ?? UNROUTABLE_KEY,
      headers,
      payload: packet.payload.subarray(0, maxPayloadBytes),
      deadLetter: { code: "payload_too_large", reason },
    };
  }

  return {
    onPublish(connection, packet, ack) {
      const receivedAt = clock.now();
      const target = route(packet.topic);
      if (target) onDevice(target.deviceId, receivedAt);
      sink.put(frameOf(connection, packet, target, receivedAt, ack));
    },
    get inFlight() {
      return sink.inFlight;
    },
    drain: () => sink.drain(),
  };
}
