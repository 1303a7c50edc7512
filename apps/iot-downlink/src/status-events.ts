import type { Publisher } from "@umos/bus";
import { HEADERS, KINDS, routingKey, type Envelope } from "@umos/contracts";
import type { Command } from "@umos/store";

/** Publishes a command's new status as `iot.{v}.event.command.status`, so WebSocket clients see it live. */
export function publishCommandStatus(publisher: Publisher, command: Command): Promise<void> {
  const envelope: Envelope = {
    id: Bun.randomUUIDv7(),
    ts: Date.now(),
    vendor: command.vendor,
    deviceId: command.deviceId,
    kind: KINDS.commandStatus,
    correlationId: command.id,
    data: { commandId: command.id, status: command.status, output: command.output ?? null, reason: command.reason },
  };
  return publisher.publish(routingKey(command.vendor, "event", KINDS.commandStatus), Buffer.from(JSON.stringify(envelope)), {
    messageId: envelope.id,
    contentType: "application/json",
    headers: { [HEADERS.deviceId]: command.deviceId, [HEADERS.vendor]: command.vendor },
  });
}
