import { KINDS, type Envelope } from "@umos/contracts";
import type { TelemetryPoint } from "./types";

/** Nested objects are flattened this deep (`a.b.c.d`); anything deeper is kept as JSON text. */
const MAX_DEPTH = 4;

/**
 * The points of one validated report. The device, the names and the timestamp come only from the
 * message, so writing the same message twice (a redelivery) overwrites the same points in either
 * store. Other kinds have no points.
 */
export function reportPoints(envelope: Envelope, model: string | null): TelemetryPoint[] {
  const base = { deviceId: envelope.deviceId, vendor: envelope.vendor, model, ts: Math.trunc(envelope.ts) };
  if (envelope.kind === KINDS.propertyReport) {
    return leaves(envelope.data, "", 1).map(([name, value]) => ({ ...base, series: "property", name, ...stored(value) }));
  }
  if (envelope.kind === KINDS.eventReport) {
    const { event, data } = envelope.data as { event: string; data?: unknown };
    return [{ ...base, series: "event", name: event, value: 1, text: JSON.stringify(data ?? {}) }];
  }
  return [];
}

type Leaf = [path: string, value: number | boolean | string | unknown[] | object];

/** Every reported value with its dotted path; nulls carry no value and are left out. */
function leaves(data: unknown, prefix: string, depth: number): Leaf[] {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return [];
  return Object.entries(data).flatMap(([key, value]): Leaf[] => {
    const path = prefix + key;
    if (key === "" || value === null || value === undefined) return [];
    if (typeof value === "object" && !Array.isArray(value) && depth < MAX_DEPTH) return leaves(value, `${path}.`, depth + 1);
    return [[path, value as Leaf[1]]];
  });
}

function stored(value: Leaf[1]): Pick<TelemetryPoint, "value" | "text"> {
  // JSON.parse reads 1e400 as Infinity, which neither store can keep as a number.
  if (typeof value === "number") return Number.isFinite(value) ? { value, text: null } : { value: null, text: String(value) };
  if (typeof value === "boolean") return { value: value ? 1 : 0, text: null };
  if (typeof value === "string") return { value: null, text: value };
  return { value: null, text: JSON.stringify(value) };
}
