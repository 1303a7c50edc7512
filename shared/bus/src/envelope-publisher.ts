import { HEADERS, type Envelope } from "@umos/contracts";
import type { Publisher } from "./types";

/** A normalized message onto the bus: the envelope as JSON, device and vendor in headers for cheap routing downstream. */
export function publishEnvelope(publisher: Publisher, routingKey: string, envelope: Envelope): Promise<void> {
  return publisher.publish(routingKey, Buffer.from(JSON.stringify(envelope)), {
    messageId: envelope.id,
    contentType: "application/json",
    headers: { [HEADERS.deviceId]: envelope.deviceId, [HEADERS.vendor]: envelope.vendor },
  });
}
