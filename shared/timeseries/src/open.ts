import type { Clock, Logger } from "@umos/core";
import type { Sql } from "@umos/store";
import { createInfluxTimeSeries } from "./influx";
import type { InfluxTarget } from "./influx-writer";
import { createPostgresTimeSeries } from "./postgres";
import type { TimeSeries } from "./types";

export type TimeSeriesKind = "influx" | "postgres" | "off";

export interface TimeSeriesSettings {
  timeseries: { kind?: TimeSeriesKind };
  influx: Omit<InfluxTarget, "url"> & { url?: string };
}

/** timeseries.kind, or where it is unset: influx when influx.url is set, else off. */
export function timeSeriesKind(config: TimeSeriesSettings): TimeSeriesKind {
  return config.timeseries.kind ?? (config.influx.url ? "influx" : "off");
}

/** The time series the configuration names; null when it is off. */
export function openTimeSeries(
  config: TimeSeriesSettings,
  parts: { sql: Sql; clock: Clock; log: Logger; rawRetentionDays(): Promise<number | null> },
): TimeSeries | null {
  const kind = timeSeriesKind(config);
  if (kind === "off") return null;
  if (kind === "postgres") return createPostgresTimeSeries(parts.sql, parts);
  const { url } = config.influx;
  if (!url) throw new Error("timeseries.kind is influx but influx.url (UMOS_INFLUX__URL) is not set");
  return createInfluxTimeSeries({ ...config.influx, url }, parts.log);
}
