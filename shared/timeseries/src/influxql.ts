import { UnavailableError } from "@umos/core";
import type { InfluxTarget } from "./influx-writer";
import { FIELDS, MEASUREMENTS, TAGS } from "./schema";

/** InfluxQL aggregates the API offers; each works on numbers and on booleans stored as 1 and 0. */
export const AGGREGATES = ["mean", "min", "max", "first", "last", "sum", "count", "spread"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export interface WindowQuery {
  deviceId: string;
  property: string;
  /** Inclusive, ms since the epoch. */
  fromMs: number;
  /** Exclusive, ms since the epoch. */
  toMs: number;
  everyMs: number;
  fn: Aggregate;
}

/** One window: its start (InfluxQL aligns windows to multiples of `every` since the epoch) and its aggregate. */
export interface Window {
  ts: number;
  value: number;
}

/** Several properties of one device over the same windows. */
export interface SeriesQuery extends Omit<WindowQuery, "property"> {
  properties: string[];
}

export interface PropertySeries {
  property: string;
  windows: Window[];
}

/** A device's events counted per window: the events named, or every event it reported. */
export interface EventCountQuery extends Omit<WindowQuery, "property" | "fn"> {
  /** Empty: every event name the device reported in the range, up to maxEvents of them. */
  events: string[];
  maxEvents: number;
}

export interface EventCounts {
  /** By event name: the names asked in their order, else in name order. */
  series: { event: string; windows: Window[] }[];
  /** Without names asked: the device reported more than maxEvents event names in the range. */
  more: boolean;
}

export interface InfluxQuery {
  windows(query: WindowQuery): Promise<Window[]>;
  /** One answer per asked property, in the order asked; a property without data has no windows. */
  series(query: SeriesQuery): Promise<PropertySeries[]>;
  eventCounts(query: EventCountQuery): Promise<EventCounts>;
}

interface QueryResponse {
  error?: string;
  results?: { error?: string; series?: { tags?: Record<string, string>; columns: string[]; values: [number, number | null][] }[] }[];
}

/**
 * Reads through InfluxQL on `/query`, the one query path InfluxDB 1.8+, 2.x (v1 compatibility API,
 * the bucket through its DBRP mapping) and 3.x all answer; Flux is 2.x only. Every failure is an
 * UnavailableError: the API checked the request, so what goes wrong here is the server's side.
 */
export function createInfluxQuery(target: Omit<InfluxTarget, "org">): InfluxQuery {
  const headers: Record<string, string> = target.token ? { authorization: `Token ${target.token}` } : {};
  /** One InfluxQL statement's series, by the value of the tag it is grouped by. */
  async function grouped(statement: string, tag: string): Promise<Map<string, Window[]>> {
    // Appended, not resolved: a server behind a proxy may live under a path, as the write client allows.
    const url = new URL(`${target.url.replace(/\/$/, "")}/query`);
    url.search = new URLSearchParams({ db: target.bucket, epoch: "ms", q: statement }).toString();
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(target.timeoutMs) });
    } catch (err) {
      throw new UnavailableError(`InfluxDB at ${url.origin} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (response.status === 401 || response.status === 403) {
      throw new UnavailableError(`InfluxDB refused the credentials (${response.status}): check influx.token (UMOS_INFLUX__TOKEN)`);
    }
    const body = (await response.json().catch(() => ({}))) as QueryResponse;
    const error = body.error ?? body.results?.[0]?.error;
    if (!response.ok || error) throw new UnavailableError(`InfluxDB could not answer the query (${response.status}): ${error ?? "no InfluxQL result"}`);
    // One series per tag value; none for a value without data.
    return new Map(
      (body.results?.[0]?.series ?? []).map((s) => [
        s.tags?.[tag] ?? "",
        s.values.filter((row): row is [number, number] => row[1] !== null).map(([ts, value]) => ({ ts, value })),
      ]),
    );
  }
  async function series(query: SeriesQuery): Promise<PropertySeries[]> {
    const byProperty = await grouped(windowStatement(query), TAGS.property);
    return query.properties.map((property) => ({ property, windows: byProperty.get(property) ?? [] }));
  }
  return {
    series,
    async eventCounts(query) {
      const byEvent = await grouped(eventCountStatement(query), TAGS.event);
      if (query.events.length > 0) return { series: query.events.map((event) => ({ event, windows: byEvent.get(event) ?? [] })), more: false };
      const names = [...byEvent.keys()].sort();
      return { series: names.slice(0, query.maxEvents).map((event) => ({ event, windows: byEvent.get(event)! })), more: names.length > query.maxEvents };
    },
    async windows({ property, ...rest }) {
      const [only] = await series({ ...rest, properties: [property] });
      return only!.windows;
    },
  };
}

/** A property's aggregate per window and property. */
function windowStatement(q: SeriesQuery): string {
  return groupedStatement(MEASUREMENTS.property, q.fn, TAGS.property, q.properties, q);
}

/** Occurrences per window and event name; without names, every event (at most maxEvents + 1 series, to tell there are more). */
function eventCountStatement(q: EventCountQuery): string {
  return groupedStatement(MEASUREMENTS.event, "count", TAGS.event, q.events, q) + (q.events.length > 0 ? "" : ` SLIMIT ${Math.trunc(q.maxEvents) + 1}`);
}

/**
 * `fn` of one device's values per window and value of `tag`, only the `names` given of it if any;
 * names are constants, values are quoted literals. fill(none): windows without a point are left out
 * rather than sent as nulls.
 */
function groupedStatement(measurement: string, fn: string, tag: string, names: string[], q: Omit<WindowQuery, "property" | "fn">): string {
  const only = names.length > 0 ? ` AND (${names.map((name) => `"${tag}" = ${literal(name)}`).join(" OR ")})` : "";
  return (
    `SELECT ${fn}("${FIELDS.value}") FROM "${measurement}" ` +
    `WHERE "${TAGS.device}" = ${literal(q.deviceId)}${only} ` +
    `AND time >= ${Math.trunc(q.fromMs)}ms AND time < ${Math.trunc(q.toMs)}ms ` +
    `GROUP BY time(${Math.trunc(q.everyMs)}ms), "${tag}" fill(none)`
  );
}

/** An InfluxQL string literal: backslash and single quote escaped (InfluxQL spec, "Strings"). */
function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
