import { UnavailableError } from "@umos/core";
import { authorization, type InfluxTarget } from "./influx-writer";
import { FIELDS, MEASUREMENTS, TAGS } from "./schema";
import type { ExportQuery, PointQuery, Range, SeriesQuery, StoredValue, TimeSeriesReader, Window } from "./types";

/** Rows per series one export request reads. */
const EXPORT_PAGE = 5000;

interface QueryResponse {
  error?: string;
  results?: { error?: string; series?: { tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
}

type Rows = Map<string, unknown[][]>;

/**
 * Reads through InfluxQL on `/query`, the one query path InfluxDB 1.x, 2.x (v1 compatibility API,
 * the bucket through its DBRP mapping) and 3.x all answer; Flux is 2.x only. Every failure is an
 * UnavailableError: the API checked the request, so what goes wrong here is the server's side.
 */
export interface InfluxQuery extends TimeSeriesReader {
  /** Runs a statement that changes something (POST /query). */
  statement(q: string): Promise<void>;
  /** A statement's first series as objects by column name. */
  rows(q: string): Promise<Record<string, unknown>[]>;
}

export function createInfluxQuery(target: Omit<InfluxTarget, "org">): InfluxQuery {
  const headers = authorization(target);

  async function request(statement: string, method: "GET" | "POST"): Promise<QueryResponse> {
    // Appended, not resolved: a server behind a proxy may live under a path, as the write client allows.
    const url = new URL(`${target.url.replace(/\/$/, "")}/query`);
    url.search = new URLSearchParams({ db: target.bucket, epoch: "ms", q: statement }).toString();
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal: AbortSignal.timeout(target.timeoutMs) });
    } catch (err) {
      throw new UnavailableError(`InfluxDB at ${url.origin} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (response.status === 401 || response.status === 403) {
      throw new UnavailableError(`InfluxDB refused the credentials (${response.status}): check influx.token (UMOS_INFLUX__TOKEN)`);
    }
    const body = (await response.json().catch(() => ({}))) as QueryResponse;
    const error = body.error ?? body.results?.[0]?.error;
    if (!response.ok || error) throw new UnavailableError(`InfluxDB could not answer the query (${response.status}): ${error ?? "no InfluxQL result"}`);
    return body;
  }

  /** One statement's rows, by the value of the tag it is grouped by; none for a value without data. */
  async function grouped(statement: string, tag: string): Promise<Rows> {
    const body = await request(statement, "GET");
    return new Map((body.results?.[0]?.series ?? []).map((s) => [s.tags?.[tag] ?? "", s.values]));
  }

  const windowsOf = (rows: unknown[][] | undefined): Window[] =>
    (rows ?? []).filter((row) => row[1] !== null).map(([ts, value]) => ({ ts: ts as number, value: value as number }));

  async function series(query: SeriesQuery) {
    const byProperty = await grouped(windowStatement(query), TAGS.property);
    return query.properties.map((property) => ({ property, windows: windowsOf(byProperty.get(property)) }));
  }

  /** Raw values of one series kind, grouped by name, `order` and at most `limit` per name. */
  async function raw(q: Range & { series: PointQuery["series"]; names: string[] }, order: "ASC" | "DESC", limit: number): Promise<Map<string, StoredValue[]>> {
    const isEvent = q.series === "event";
    const tag = isEvent ? TAGS.event : TAGS.property;
    const fields = isEvent ? `"${FIELDS.value}","${FIELDS.data}"` : `"${FIELDS.value}","${FIELDS.text}"`;
    const statement =
      `SELECT ${fields} FROM "${isEvent ? MEASUREMENTS.event : MEASUREMENTS.property}" ${where(q, tag, q.names)} ` +
      `GROUP BY "${tag}" ORDER BY time ${order} LIMIT ${Math.trunc(limit)}`;
    const byName = await grouped(statement, tag);
    return new Map(
      [...byName].map(([name, rows]) => [
        name,
        rows.map(([ts, value, text]) => ({
          ts: ts as number,
          name,
          value: isEvent ? null : ((value as number | null) ?? null),
          text: (text as string | null) ?? null,
        })),
      ]),
    );
  }

  return {
    series,
    statement: async (q) => void (await request(q, "POST")),
    async rows(q) {
      const first = (await request(q, "GET")).results?.[0]?.series?.[0];
      return (first?.values ?? []).map((row) => Object.fromEntries(first!.columns.map((column, i) => [column, row[i]])));
    },
    async eventCounts(query) {
      const byEvent = await grouped(eventCountStatement(query), TAGS.event);
      if (query.events.length > 0) return { series: query.events.map((event) => ({ event, windows: windowsOf(byEvent.get(event)) })), more: false };
      const names = [...byEvent.keys()].sort();
      return {
        series: names.slice(0, query.maxEvents).map((event) => ({ event, windows: windowsOf(byEvent.get(event)) })),
        more: names.length > query.maxEvents,
      };
    },
    async windows({ property, ...rest }) {
      const [only] = await series({ ...rest, properties: [property] });
      return only!.windows;
    },
    async points(query) {
      const byName = await raw(query, "DESC", query.limit);
      return [...byName.values()]
        .flat()
        .sort((a, b) => b.ts - a.ts || a.name.localeCompare(b.name))
        .slice(0, query.limit);
    },
    export: (query) => exportPages(query, (q) => raw(q, "ASC", EXPORT_PAGE)),
  };
}

/**
 * Pages through a range per name, EXPORT_PAGE rows of each name a request: what is before the
 * earliest last row of a full page is complete and goes out in time order; the rest is read again
 * from there. A name has one point per instant, so each page moves the cursor forward.
 */
async function* exportPages(query: ExportQuery, page: (q: ExportQuery) => Promise<Map<string, StoredValue[]>>): AsyncIterable<StoredValue[]> {
  let fromMs = query.fromMs;
  while (fromMs < query.toMs) {
    const byName = await page({ ...query, fromMs });
    const full = [...byName.values()].filter((rows) => rows.length >= EXPORT_PAGE);
    const until = full.length > 0 ? Math.min(...full.map((rows) => rows[rows.length - 1]!.ts)) : query.toMs;
    const batch = [...byName.values()]
      .flat()
      .filter((v) => v.ts < until)
      .sort((a, b) => a.ts - b.ts || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (batch.length > 0) yield batch;
    fromMs = until;
  }
}

/** A property's aggregate per window and property. */
function windowStatement(q: SeriesQuery): string {
  return groupedStatement(MEASUREMENTS.property, q.fn, TAGS.property, q.properties, q);
}

/** Occurrences per window and event name; without names, every event (at most maxEvents + 1 series, to tell there are more). */
function eventCountStatement(q: Range & { everyMs: number; events: string[]; maxEvents: number }): string {
  return groupedStatement(MEASUREMENTS.event, "count", TAGS.event, q.events, q) + (q.events.length > 0 ? "" : ` SLIMIT ${Math.trunc(q.maxEvents) + 1}`);
}

/**
 * `fn` of one device's values per window and value of `tag`, only the `names` given of it if any.
 * fill(none): windows without a point are left out rather than sent as nulls.
 */
function groupedStatement(measurement: string, fn: string, tag: string, names: string[], q: Range & { everyMs: number }): string {
  return `SELECT ${fn}("${FIELDS.value}") FROM "${measurement}" ${where(q, tag, names)} GROUP BY time(${Math.trunc(q.everyMs)}ms), "${tag}" fill(none)`;
}

/** One device, the names given of `tag` if any, a time range; names are quoted literals, never InfluxQL. */
function where(q: Range, tag: string, names: string[]): string {
  const only = names.length > 0 ? ` AND (${names.map((name) => `"${tag}" = ${literal(name)}`).join(" OR ")})` : "";
  return `WHERE "${TAGS.device}" = ${literal(q.deviceId)}${only} AND time >= ${Math.trunc(q.fromMs)}ms AND time < ${Math.trunc(q.toMs)}ms`;
}

/** An InfluxQL string literal: backslash and single quote escaped (InfluxQL spec, "Strings"). */
export function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
