import { KINDS, type Envelope } from "./envelope";
import { routingKey, type Vendor } from "./routing";

export interface CommandState {
  id: string;
  deviceId: string;
  vendor: Vendor;
  status: string;
  output: unknown;
  reason: string | null;
}

/** A command's new status as the event WebSocket clients see: `iot.{v}.event.command.status`. */
export function commandStatusEvent(command: CommandState): { routingKey: string; envelope: Envelope } {
  return {
    routingKey: routingKey(command.vendor, "event", KINDS.commandStatus),
    envelope: {
      id: Bun.randomUUIDv7(),
      ts: Date.now(),
      vendor: command.vendor,
      deviceId: command.deviceId,
      kind: KINDS.commandStatus,
      correlationId: command.id,
      data: { commandId: command.id, status: command.status, output: command.output ?? null, reason: command.reason },
    },
  };
}
