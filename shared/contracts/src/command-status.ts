import { type Static, Type as T } from "@sinclair/typebox";
import { KINDS, type Envelope } from "./envelope";
import { routingKey, type Vendor } from "./routing";

/**
 * Where a command is in its life (docs/design.md §4): `queued` and `sent` are open, the others final.
 * The one list the store, the REST schema and the state machine read.
 */
export const CommandStatusSchema = T.Union([
  T.Literal("queued"),
  T.Literal("sent"),
  T.Literal("acked"),
  T.Literal("failed"),
  T.Literal("timeout"),
  T.Literal("cancelled"),
  T.Literal("expired"),
]);
export type CommandStatus = Static<typeof CommandStatusSchema>;
/** The statuses a command can still leave: it has not been answered, cancelled, timed out or expired. */
export const OPEN_STATUSES: readonly CommandStatus[] = ["queued", "sent"];

export interface CommandState {
  id: string;
  deviceId: string;
  vendor: Vendor;
  status: CommandStatus;
  output: unknown;
  reason: string | null;
}

/** What a command is, as far as the envelope that carries it to the device's vendor adapter goes. */
export interface CommandCall {
  id: string;
  deviceId: string;
  vendor: Vendor;
  kind: string;
  service: string | null;
  params: unknown;
}

/**
 * The envelope of a command on the service stage (`iot.{v}.service.service.call` or
 * `.property.set`): a service call carries `{service, params}`, a property set the values. Its
 * correlation id is the command's id, which the device's answer echoes.
 */
export function commandEnvelope(command: CommandCall, envelopeId = command.id): Envelope {
  const data = command.kind === KINDS.serviceCall ? { service: command.service, params: command.params } : command.params;
  return { id: envelopeId, ts: Date.now(), vendor: command.vendor, deviceId: command.deviceId, kind: command.kind, correlationId: command.id, data };
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
