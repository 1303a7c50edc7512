import { publishForGateway, type Publisher } from "@umos/bus";
import type { Envelope } from "@umos/contracts";
import { adapterFor } from "@umos/vendors";

/**
 * An application's answer to a device's request (DJI `requests`): encoded by the vendor adapter
 * and handed to the gateway. Not a command: nothing waits for the device to acknowledge it.
 */
export function createRequestReply(publisher: Publisher) {
  return async function forward(envelope: Envelope): Promise<void> {
    const frame = adapterFor(envelope.vendor).encode(envelope, { definition: null, gatewayId: null });
    await publishForGateway(publisher, { vendor: envelope.vendor, action: envelope.kind, deviceId: envelope.deviceId }, frame, envelope.id);
  };
}
