import { HEADERS, routingKey, type Vendor } from "@umos/contracts";
import type { Publisher } from "./types";

/**
 * A vendor frame for the gateway to publish on MQTT (`iot.{v}.gateway.{action}`): the payload is the
 * body, the MQTT topic rides in `x-mqtt-topic`, so the gateway parses nothing.
 */
export function publishForGateway(
  publisher: Publisher,
  target: { vendor: Vendor; action: string; deviceId: string },
  frame: { topic: string; payload: Uint8Array },
  messageId: string = Bun.randomUUIDv7(),
): Promise<void> {
  return publisher.publish(routingKey(target.vendor, "gateway", target.action), frame.payload, {
    messageId,
    headers: { [HEADERS.mqttTopic]: frame.topic, [HEADERS.deviceId]: target.deviceId },
  });
}
