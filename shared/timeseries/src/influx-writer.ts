import { HttpError, InfluxDB, setLogger, type Point } from "@influxdata/influxdb-client";
import { InvalidInputError, UnavailableError, type Logger } from "@umos/core";
import { PRECISION } from "./schema";

export interface InfluxTarget {
  url: string;
  /** A 2.x/3.x API token, or `user:password` for InfluxDB 1.8 with authentication on. */
  token?: string;
  org: string;
  bucket: string;
  timeoutMs: number;
}

export interface PointWriter {
  /**
   * One write request through the official client's WriteApi (`/api/v2/write`); resolves once the
   * server accepted every point. Throws UnavailableError where trying again later can help (server
   * down, overloaded, credentials or bucket not there yet), InvalidInputError where the server
   * refuses the points themselves.
   */
  write(points: Point[]): Promise<void>;
}

/**
 * The client's own retry buffer and timed flushes are switched off: they retry in the background
 * and drop lines once their buffer is full, so a caller could not know when its points were
 * accepted. Batching and retrying belong to the caller, which acks a message only then.
 */
export function createInfluxWriter(target: InfluxTarget, log: Logger): PointWriter {
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
      api.writePoints(points);
      try {
        await api.close();
      } catch (err) {
        throw classify(err, target);
      }
    },
  };
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
  if (status === 404) {
    return new UnavailableError(
      `InfluxDB answered 404 to /api/v2/write: bucket '${target.bucket}' or org '${target.org}' does not exist (influx.bucket, influx.org), or the server predates the v2 write API (InfluxDB 1.8+ has it)`,
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
