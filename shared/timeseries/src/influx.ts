import { UnavailableError, type Logger } from "@umos/core";
import { authorization, createInfluxWriter, type InfluxTarget } from "./influx-writer";
import { createInfluxQuery, literal } from "./influxql";
import { MEASUREMENTS, TAGS } from "./schema";
import type { TimeSeries } from "./types";

/** InfluxDB as the time series: writes through its write API, reads through InfluxQL. */
export function createInfluxTimeSeries(target: InfluxTarget, log: Logger): TimeSeries {
  const writer = createInfluxWriter(target, log);
  const { statement, rows, ...reader } = createInfluxQuery(target);
  return {
    kind: "influx",
    ...reader,
    write: (points) => writer.write(points),
    async deleteDevice(deviceId) {
      if (target.writeApi !== "v1" && (await deleteV2(target, deviceId))) return;
      // InfluxDB 1.x: the series go, with every point in them.
      await statement(`DROP SERIES FROM "${MEASUREMENTS.property}", "${MEASUREMENTS.event}" WHERE "${TAGS.device}" = ${literal(deviceId)}`);
    },
    async applyRetention(days) {
      if (target.writeApi !== "v1" && (await bucketRetentionV2(target, days))) return;
      // InfluxDB 1.x: the database's default retention policy, whatever its name.
      const policies = await rows(`SHOW RETENTION POLICIES ON "${identifier(target.bucket)}"`);
      const byDefault = policies.find((row) => row.default === true);
      if (!byDefault) throw new UnavailableError(`InfluxDB database '${target.bucket}' has no default retention policy`);
      await statement(
        `ALTER RETENTION POLICY "${identifier(String(byDefault.name))}" ON "${identifier(target.bucket)}" DURATION ${days === null ? "INF" : `${days}d`}`,
      );
    },
  };
}

/** A double-quoted InfluxQL identifier's inside. */
function identifier(name: string): string {
  return name.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
}

/** InfluxDB 2.x and 3.x: the bucket's expiry rule; false where there is no buckets API (1.x). */
async function bucketRetentionV2(target: InfluxTarget, days: number | null): Promise<boolean> {
  const base = target.url.replace(/\/$/, "");
  const headers = { "content-type": "application/json", ...authorization(target) };
  const call = async (path: string, init: RequestInit = {}) => {
    try {
      return await fetch(`${base}${path}`, { ...init, headers, signal: AbortSignal.timeout(target.timeoutMs) });
    } catch (err) {
      throw new UnavailableError(`InfluxDB at ${new URL(base).origin} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const found = await call(`/api/v2/buckets?${new URLSearchParams({ name: target.bucket, org: target.org })}`);
  if (found.status === 404 || found.status === 405) return false;
  const bucket = ((await found.json().catch(() => ({}))) as { buckets?: { id: string }[] }).buckets?.[0];
  if (!found.ok || !bucket) {
    // VictoriaMetrics, for one, takes v2 writes but has no buckets: its retention is its own -retentionPeriod.
    throw new UnavailableError(
      `could not set the raw telemetry's retention on ${new URL(base).origin}: no bucket '${target.bucket}' of org '${target.org}' (${found.status}); set the retention on the server itself`,
    );
  }
  const everySeconds = days === null ? 0 : days * 86_400;
  const patched = await call(`/api/v2/buckets/${bucket.id}`, { method: "PATCH", body: JSON.stringify({ retentionRules: [{ type: "expire", everySeconds }] }) });
  if (!patched.ok) throw new UnavailableError(`InfluxDB did not take the bucket's retention (${patched.status}): ${(await patched.text()).slice(0, 300)}`);
  return true;
}

/**
 * InfluxDB 2.x and 3.x delete by predicate through /api/v2/delete, over all time; false where the
 * server has no such endpoint (1.x), which then takes InfluxQL's DROP SERIES.
 */
async function deleteV2(target: InfluxTarget, deviceId: string): Promise<boolean> {
  const url = new URL(`${target.url.replace(/\/$/, "")}/api/v2/delete`);
  url.search = new URLSearchParams({ org: target.org, bucket: target.bucket }).toString();
  const predicate = `${TAGS.device}="${deviceId.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...authorization(target) },
      body: JSON.stringify({ start: "1970-01-01T00:00:00Z", stop: "2262-04-11T00:00:00Z", predicate }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (err) {
    throw new UnavailableError(`InfluxDB at ${url.origin} unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (response.status === 404 || response.status === 405) return false;
  if (!response.ok) throw new UnavailableError(`InfluxDB could not delete the device's points (${response.status}): ${(await response.text()).slice(0, 300)}`);
  return true;
}
