/** Aggregates the API offers over windows; each works on numbers and on booleans stored as 1 and 0. */
export const AGGREGATES = ["mean", "min", "max", "first", "last", "sum", "count", "spread"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/**
 * One value at one instant, as both stores keep it (docs/telemetry.md). The device, the series and
 * the timestamp identify it: writing the same report twice (a redelivery) overwrites, never adds.
 */
export interface TelemetryPoint {
  series: "property" | "event";
  deviceId: string;
  vendor: string;
  /** The device's thing model id when it reported; null without one. */
  model: string | null;
  /** A property's dotted path (`battery.level`), or an event's name. */
  name: string;
  /** ms since the epoch: the report's own timestamp. */
  ts: number;
  /** Numbers as they are, booleans as 1 and 0, an event as 1; null for a text value. */
  value: number | null;
  /** Strings, arrays as JSON; an event's data as JSON. */
  text: string | null;
}

export interface Range {
  deviceId: string;
  /** Inclusive, ms since the epoch. */
  fromMs: number;
  /** Exclusive, ms since the epoch. */
  toMs: number;
}

export interface WindowQuery extends Range {
  property: string;
  everyMs: number;
  fn: Aggregate;
}

/** One window: its start (a multiple of `every` since the epoch) and its aggregate. */
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
export interface EventCountQuery extends Range {
  everyMs: number;
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

/** Stored points of a range, newest first, at most `limit`: the event list, a text property's last values. */
export interface PointQuery extends Range {
  series: TelemetryPoint["series"];
  /** Empty: every property (or event) of the device. */
  names: string[];
  limit: number;
}

/** One stored value, as the API lists and exports it. */
export interface StoredValue {
  ts: number;
  name: string;
  value: number | null;
  text: string | null;
}

export interface ExportQuery extends Range {
  series: TelemetryPoint["series"];
  names: string[];
}

export interface TimeSeriesReader {
  windows(query: WindowQuery): Promise<Window[]>;
  /** One answer per asked property, in the order asked; a property without data has no windows. */
  series(query: SeriesQuery): Promise<PropertySeries[]>;
  eventCounts(query: EventCountQuery): Promise<EventCounts>;
  /** Newest first. */
  points(query: PointQuery): Promise<StoredValue[]>;
  /**
   * Every stored value of the range in time order (then by name), in batches, read a batch at a
   * time: a year of raw points is never held in memory.
   */
  export(query: ExportQuery): AsyncIterable<StoredValue[]>;
}

export interface TimeSeriesWriter {
  /**
   * Resolves once every point is stored. Throws UnavailableError where trying again later can help
   * (server down, overloaded, not set up yet), InvalidInputError where the store refuses the points.
   */
  write(points: TelemetryPoint[]): Promise<void>;
}

/** The two stores, InfluxDB and PostgreSQL, behind one contract (shared/timeseries/src/contract.ts). */
export interface TimeSeries extends TimeSeriesReader, TimeSeriesWriter {
  readonly kind: "influx" | "postgres";
  /** Every point of the device, in every series, roll-ups included. */
  deleteDevice(deviceId: string): Promise<void>;
  /**
   * Makes the store itself keep raw points `days` long (null: for ever) where it expires data on
   * its own (InfluxDB's retention policy); PostgreSQL's partitions are dropped by the retention job.
   */
  applyRetention(days: number | null): Promise<void>;
}
