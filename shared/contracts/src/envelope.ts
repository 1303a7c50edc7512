import { Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { Vendor } from "./routing";

/** The vendors as a schema; the assignment below fails to compile if it drifts from VENDORS. */
export const VendorSchema = T.Union([T.Literal("dji"), T.Literal("tuya"), T.Literal("generic")]);
const _sameVendors: [Static<typeof VendorSchema>, Vendor] = ["" as Vendor, "" as Static<typeof VendorSchema>];
void _sameVendors;

/**
 * The normalized message every stage after decoding carries (docs/design.md §2): JSON
 * `{ id, ts, vendor, deviceId, kind, data, correlationId? }`.
 */
export const EnvelopeSchema = T.Object({
  /** UUIDv7 given at the edge, kept end to end. */
  id: T.String({ minLength: 1 }),
  /** Device time in ms since the epoch, or receipt time when the device sent none. */
  ts: T.Number(),
  vendor: VendorSchema,
  deviceId: T.String({ minLength: 1 }),
  kind: T.String({ minLength: 1 }),
  data: T.Unknown(),
  correlationId: T.Optional(T.String()),
  /** What the device's thing model found wrong, on a message accepted under validation "flag". */
  problems: T.Optional(T.Array(T.Object({ path: T.String(), message: T.String() }))),
});

export type Envelope = Static<typeof EnvelopeSchema>;

export const envelopeChecker = TypeCompiler.Compile(EnvelopeSchema);

/** Kinds of normalized messages. */
export const KINDS = {
  propertyReport: "property.report",
  eventReport: "event.report",
  serviceCall: "service.call",
  propertySet: "property.set",
  serviceReply: "service.reply",
  statusOnline: "status.online",
  statusOffline: "status.offline",
  commandStatus: "command.status",
  /** A device asking the cloud for something (DJI `requests`). */
  request: "request",
  /** An application's answer to a device's request. */
  requestReply: "request.reply",
  /** An alarm raised, changed (escalated, downgraded, acknowledged, assigned, commented) or cleared (docs/alarms.md). */
  alarmRaised: "alarm.raised",
  alarmUpdated: "alarm.updated",
  alarmCleared: "alarm.cleared",
  /** A job's status or counts changed (docs/fleet.md); no device: `deviceId` is empty. */
  jobProgress: "job.progress",
} as const;
