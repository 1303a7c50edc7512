import { Point } from "@influxdata/influxdb-client";
import { KINDS, type Envelope } from "@umos/contracts";
import { FIELDS, MEASUREMENTS, TAGS } from "./schema";

/** Nested objects are flattened this deep (`a.b.c.d`); anything deeper is kept as JSON text. */
const MAX_DEPTH = 4;

/**
 * The points of one validated report. The tag set and the timestamp come only from the message and
 * its device, so writing the same message twice (a redelivery) overwrites the same points: InfluxDB
 * keeps one point per measurement, tag set and timestamp. Other kinds have no points.
 */
export function reportPoints(envelope: Envelope, model: string | null): Point[] {
  const base = (measurement: string) => {
    const point = new Point(measurement).tag(TAGS.device, envelope.deviceId).tag(TAGS.vendor, envelope.vendor).timestamp(Math.trunc(envelope.ts));
    return model ? point.tag(TAGS.model, model) : point;
  };
  if (envelope.kind === KINDS.propertyReport) {
    return leaves(envelope.data, "", 1).map(([path, value]) => withValue(base(MEASUREMENTS.property).tag(TAGS.property, path), value));
  }
  if (envelope.kind === KINDS.eventReport) {
    const { event, data } = envelope.data as { event: string; data?: unknown };
    return [
      base(MEASUREMENTS.event)
        .tag(TAGS.event, event)
        .floatField(FIELDS.value, 1)
        .stringField(FIELDS.data, JSON.stringify(data ?? {})),
    ];
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

function withValue(point: Point, value: Leaf[1]): Point {
  // JSON.parse reads 1e400 as Infinity, which line protocol cannot carry as a number.
  if (typeof value === "number") return Number.isFinite(value) ? point.floatField(FIELDS.value, value) : point.stringField(FIELDS.text, String(value));
  if (typeof value === "boolean") return point.floatField(FIELDS.value, value ? 1 : 0);
  if (typeof value === "string") return point.stringField(FIELDS.text, value);
  return point.stringField(FIELDS.text, JSON.stringify(value));
}
