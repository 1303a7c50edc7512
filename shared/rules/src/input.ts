import { type Envelope, KINDS } from "@umos/contracts";
import type { Input } from "./evaluate";

/**
 * What a rule reads from a validated event (docs/alarms.md), or null for kinds rules do not read
 * (requests, alarms themselves). Times are the envelope's: the device's own where it sent one.
 */
export function inputOf(envelope: Envelope): Input | null {
  const data = envelope.data;
  const ts = envelope.ts;
  switch (envelope.kind) {
    case KINDS.propertyReport:
      return isRecord(data) ? { kind: "property", ts, data } : null;
    case KINDS.eventReport:
      return isRecord(data) && typeof data.event === "string" ? { kind: "event", ts, name: data.event, data: data.data ?? {} } : null;
    case KINDS.statusOnline:
    case KINDS.statusOffline:
      return { kind: "presence", ts, online: envelope.kind === KINDS.statusOnline };
    case KINDS.commandStatus:
      if (!isRecord(data) || typeof data.status !== "string") return null;
      return { kind: "command", ts, status: data.status, ...(typeof data.commandId === "string" ? { command: data.commandId } : {}) };
    default:
      return null;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
