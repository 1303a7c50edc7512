import { HttpError, InfluxDB, Point, setLogger } from "@influxdata/influxdb-client";
import { InvalidInputError, UnavailableError, type Logger } from "@umos/core";
import { FIELDS, MEASUREMENTS, PRECISION, TAGS } from "./schema";
import type { TelemetryPoint, TimeSeriesWriter } from "./types";

export interface InfluxTarget {
  url: string;
  /** A 2.x/3.x API token, or `user:password` for InfluxDB 1.8 with authentication on. */
  token?: string;
  org: string;
  bucket: string;
  timeoutMs: number;
  /**
   * `v2`: `/api/v2/write` (InfluxDB 1.8+, 2.x, 3.x, VictoriaMetrics). `v1`: `/write?db=`, for
   * InfluxDB before 1.8, which has no v2 write API.
   */
  writeApi?: "v1" | "v2";
}

/**
 * The client's own retry buffer and timed flushes are switched off: they retry in the background
 * and drop lines once their buffer is full, so a caller could not know when its points were
 * accepted. Batching and retrying belong to the caller, which acks a message only then.
 */
export function createInfluxWriter(target: InfluxTarget, log: Logger): TimeSeriesWriter {
  if (target.writeApi === "v1") return createV1Writer(target);
  quietClientLog(log);
  const influx = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs });
  return {
    async write(points) {
      if (points.length === 0) return;
      // A WriteApi per request: it sends exactly these points, in one request, and reports that request's fate.
      const api = influx.getWriteApi(target.org, target.bucket, PRECISION, {
        batchSize: points.length + 1,
        maxBatchBytes: Infinity,
        flushInterval: 0,
        maxRetries: 0,
      });
      api.writePoints(points.map(toInfluxPoint));
      try {
        await api.close();
      } catch (err) {
        throw classify(err, target);
      }
    },
  };
}

/** InfluxDB 1.x's own write endpoint: the same line protocol, the database by name, 204 once stored. */
function createV1Writer(target: InfluxTarget): TimeSeriesWriter {
  const url = new URL(`${target.url.replace(/\/$/, "")}/write`);
  url.search = new URLSearchParams({ db: target.bucket, precision: PRECISION }).toString();
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8", ...authorization(target) };
  return {
    async write(points) {
      if (points.length === 0) return;
      const body = points.map((p) => toInfluxPoint(p).toLineProtocol({ convertTime: (t) => String(t) })).join("\n");
      let response: Response;
      try {
        response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(target.timeoutMs) });
      } catch (err) {
        throw classify(err, target);
      }
      if (response.ok) return;
      const detail = await response.text().catch(() => "");
      throw classify(new HttpError(response.status, response.statusText, detail), target);
    },
  };
}

/** Token auth as 1.8+ and 2.x take it; `user:password` is the 1.x form of a token. */
export function authorization(target: Pick<InfluxTarget, "token">): Record<string, string> {
  return target.token ? { authorization: `Token ${target.token}` } : {};
}

/** How a point is laid out in InfluxDB (schema.ts). */
export function toInfluxPoint(p: TelemetryPoint): Point {
  const point = new Point(p.series === "event" ? MEASUREMENTS.event : MEASUREMENTS.property)
    .tag(TAGS.device, p.deviceId)
    .tag(TAGS.vendor, p.vendor)
    .tag(p.series === "event" ? TAGS.event : TAGS.property, p.name)
    .timestamp(p.ts);
  if (p.model) point.tag(TAGS.model, p.model);
  if (p.series === "event") return point.floatField(FIELDS.value, p.value ?? 1).stringField(FIELDS.data, p.text ?? "{}");
  return p.value !== null ? point.floatField(FIELDS.value, p.value) : point.stringField(FIELDS.text, p.text ?? "");
}

/** HTTP statuses of the v2 write API (InfluxDB 2.x API reference, POST /api/v2/write). */
function classify(err: unknown, target: InfluxTarget): Error {
  if (!(err instanceof HttpError)) {
    return new UnavailableError(`InfluxDB at ${new URL(target.url).origin} unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { statusCode: status } = err;
  const detail = (err.message || String(status)).slice(0, 300);
  // 400 bad line protocol or a field type conflict, 413 request too large, 422 points outside the retention period.
  if (status === 400 || status === 413 || status === 422) return new InvalidInputError("points_refused", `InfluxDB refused the points (${status}): ${detail}`);
  if (status === 401 || status === 403) return new UnavailableError(`InfluxDB refused the credentials (${status}): check influx.token (UMOS_INFLUX__TOKEN)`);
  if (status === 404 && target.writeApi === "v1")
    return new UnavailableError(`InfluxDB answered 404 to /write: database '${target.bucket}' does not exist (influx.bucket)`);
  if (status === 404) {
    return new UnavailableError(
      `InfluxDB answered 404 to /api/v2/write: bucket '${target.bucket}' or org '${target.org}' does not exist (influx.bucket, influx.org), or the server predates the v2 write API (InfluxDB 1.8+ has it; set influx.writeApi: v1 for older ones)`,
    );
  }
  return new UnavailableError(`InfluxDB answered ${status}: ${detail}`);
}

/**
 * The client logs every failed request to the console with the error object, a minified stack
 * trace included. Our writer logs each outage once, with its reason; the client's lines go to debug.
 * The client's logger is global to the module, so this is set once for the process.
 */
function quietClientLog(log: Logger): void {
  const quiet = (message: string, err?: unknown) => log.debug(`influxdb-client: ${message}`, err instanceof Error ? { err: err.message } : undefined);
  setLogger({ error: quiet, warn: quiet });
}
