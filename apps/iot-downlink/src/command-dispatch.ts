import type { BusMessage, Publisher } from "@umos/bus";
import { HEADERS, routingKey, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import type { CommandRepository } from "@umos/store";
import { adapterFor } from "@umos/vendors";
import { publishCommandStatus } from "./status-events";

/**
 * A command from iot-api (service call or property set): encode it with the vendor adapter, hand
 * the frame to the gateway, mark it `sent`. A redelivered command that already left is not sent
 * twice; one that had not is, and the device recognises it by its correlationId.
 */
export function createCommandDispatch(publisher: Publisher, commands: CommandRepository) {
  return async function dispatch(envelope: Envelope, _message: BusMessage): Promise<void> {
    const commandId = envelope.correlationId;
    if (!commandId) throw new InvalidInputError("missing_correlation", "a command without correlationId cannot be tracked");
    const command = await commands.get(commandId).catch(() => {
      throw new InvalidInputError("unknown_command", `command '${commandId}' is not stored; commands enter through the REST API`);
    });
    if (command.status !== "queued") return;
    const frame = adapterFor(envelope.vendor).encode(envelope);
    await publisher.publish(routingKey(envelope.vendor, "gateway", envelope.kind), frame.payload, {
      messageId: envelope.id,
      headers: { [HEADERS.mqttTopic]: frame.topic, [HEADERS.deviceId]: envelope.deviceId },
    });
    const sent = await commands.transition(commandId, ["queued"], "sent");
    if (sent) await publishCommandStatus(publisher, sent);
  };
}
