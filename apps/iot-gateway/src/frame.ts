import type { Bus } from "@umos/bus";
import { GATEWAY_EDGE } from "@umos/contracts";
import type { MqttConnection } from "./mqtt/connection";
import type { SpooledFrame } from "./spool/spool";

/**
 * One PUBLISH from a device as the gateway relays it, built once when it arrives: where it goes
 * (its routing key and headers, or the dead-letter exchange with a reason), and what to do once it
 * is safe. What a sink keeps of it on disk is the SpooledFrame part.
 */
export interface Frame extends SpooledFrame {
  /** The connection it came on: once that is gone the broker sends it again, and retrying it here stops. */
  connection: MqttConnection;
  /** Its PUBACK and the release of its bytes, once RabbitMQ confirmed it or the spool holds it. */
  safe: () => void;
}

/**
 * Where the relay puts frames, in arrival order: straight to RabbitMQ (direct-sink.ts), or through
 * the edge spool while RabbitMQ is out of reach (spool/store-and-forward.ts). A sink owns ordering
 * and retries; every frame put is made safe exactly once, or left to the broker to send again.
 */
export interface FrameSink {
  put(frame: Frame): void;
  /** Frames handed to RabbitMQ and not yet confirmed. */
  readonly inFlight: number;
  /** Where arrival numbers carry on (after a restart, past what the spool holds). */
  nextSeq(): number;
  /** Resolves once every frame handed to RabbitMQ is confirmed or given up; tries no more. */
  drain(): Promise<void>;
}

/** One attempt to hand a frame to RabbitMQ; resolves on its confirm. */
export function publishFrame(bus: Bus, frame: SpooledFrame): Promise<void> {
  if (!frame.deadLetter) return bus.publish(frame.routingKey, frame.payload, { messageId: frame.messageId, headers: frame.headers });
  const message = {
    routingKey: frame.routingKey,
    body: frame.payload,
    headers: frame.headers,
    messageId: frame.messageId,
    contentType: undefined,
    redelivered: false,
  };
  return bus.deadLetter(message, frame.deadLetter.code, frame.deadLetter.reason, GATEWAY_EDGE);
}
