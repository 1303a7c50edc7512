import { UnavailableError } from "@umos/core";
import type { InfluxTarget } from "./influx-writer";
import { FIELDS, MEASUREMENTS, TAGS } from "./schema";

/** InfluxQL aggregates the API offers; each works on numbers and on booleans stored as 1 and 0. */
export type Aggregate = "mean" | "min" | "max" | "last" | "count";

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

export interface InfluxQuery {
  windows(query: WindowQuery): Promise<Window[]>;
}

interface QueryResponse {
  error?: string;
  results?: { error?: string; series?: { columns: string[]; values: [number, number | null][] }[] }[];
}

/**
 * Reads through InfluxQL on `/query`, the one query path InfluxDB 1.8+, 2.x (v1 compatibility API,
 * the bucket through its DBRP mapping) and 3.x all answer; Flux is 2.x only. Every failure is an
 * UnavailableError: the API checked the request, so what goes wrong here is the server's side.
 */
export function createInfluxQuery(target: Omit<InfluxTarget, "org">): InfluxQuery {
  const headers: Record<string, string> = target.token ? { authorization: `Token ${target.token}` } : {};
  return {
    async windows(query) {
      // Appended, not resolved: a server behind a proxy may live under a path, as the write client allows.
      const url = new URL(`${target.url.replace(/\/$/, "")}/query`);
      url.search = new URLSearchParams({ db: target.bucket, epoch: "ms", q: windowStatement(query) }).toString();
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
      const values = body.results?.[0]?.series?.[0]?.values ?? [];
      return values.filter((row): row is [number, number] => row[1] !== null).map(([ts, value]) => ({ ts, value }));
    },
  };
}

/** The statement for one device's property; names are constants, values are quoted literals. */
function windowStatement(q: WindowQuery): string {
  return (
    `SELECT ${q.fn}("${FIELDS.value}") FROM "${MEASUREMENTS.property}" ` +
    `WHERE "${TAGS.device}" = ${literal(q.deviceId)} AND "${TAGS.property}" = ${literal(q.property)} ` +
    `AND time >= ${Math.trunc(q.fromMs)}ms AND time < ${Math.trunc(q.toMs)}ms ` +
    // fill(none): windows without a point are left out rather than sent as nulls.
    `GROUP BY time(${Math.trunc(q.everyMs)}ms) fill(none)`
  );
}

/** An InfluxQL string literal: backslash and single quote escaped (InfluxQL spec, "Strings"). */
function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
