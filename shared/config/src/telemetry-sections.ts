import { Type as T } from "@sinclair/typebox";
import { Days, Millis } from "./schema-types";

// The telemetry sections of the configuration (docs/telemetry.md, docs/retention.md).

/** Telemetry time series (docs/telemetry.md): where the points go, how they are written and read. */
export const TimeSeriesSection = T.Object(
  {
    /**
     * influx: InfluxDB (the influx section); postgres: tables in the registry's PostgreSQL (partitioned,
     * rolled up); off: no history. Unset: influx when influx.url is set, else off.
     */
    kind: T.Optional(T.Union([T.Literal("influx"), T.Literal("postgres"), T.Literal("off")])),
    /** Points per write request (InfluxData recommends 5,000 lines). */
    batchSize: T.Integer({ minimum: 1, maximum: 100_000, default: 5000 }),
    /** How long a point may wait for a fuller batch. */
    flushIntervalMs: T.Integer({ minimum: 1, maximum: 60_000, default: 1000 }),
    /** Reports in flight to the writer, unacked until written: a batch fills while the one before is sent. */
    prefetch: T.Integer({ minimum: 2, maximum: 65535, default: 1024 }),
    /** Points held in memory at most; further reports wait in RabbitMQ. */
    maxBufferedPoints: T.Integer({ minimum: 1, default: 100_000 }),
    retryInitialMs: Millis(500),
    retryMaxMs: Millis(30_000),
    /** A report not written by then goes back to the queue; keep it below RabbitMQ's consumer_timeout (30 min). */
    maxHoldMs: T.Integer({ minimum: 1000, default: 600_000 }),
    /** A telemetry query answers at most this many windows ... */
    maxQueryPoints: T.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
    /** ... over at most this long a range. */
    maxQueryRangeDays: T.Integer({ minimum: 1, maximum: 36_500, default: 366 }),
    /** postgres: how often the minute and hour roll-ups take in what was written. */
    rollupIntervalMs: T.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
  },
  { default: {}, additionalProperties: false },
);

/** InfluxDB, where timeseries.kind is influx. */
export const InfluxSection = T.Object(
  {
    /** InfluxDB 1.x, 2.x or 3.x (VictoriaMetrics takes the writes but cannot answer the API's queries). */
    url: T.Optional(T.String({ pattern: "^https?://" })),
    /** A 2.x/3.x API token, or `user:password` for 1.x with authentication on; from the environment only. */
    token: T.Optional(T.String({ minLength: 1 })),
    org: T.String({ default: "umos" }),
    /** Written to, and the database the API's InfluxQL names (2.x maps it through the bucket's DBRP mapping). */
    bucket: T.String({ minLength: 1, default: "umos" }),
    timeoutMs: Millis(5_000),
    /** v2: /api/v2/write (InfluxDB 1.8+, 2.x, 3.x); v1: /write, for InfluxDB before 1.8. */
    writeApi: T.Union([T.Literal("v2"), T.Literal("v1")], { default: "v2" }),
  },
  { default: {}, additionalProperties: false },
);

/**
 * How long data is kept, in days; 0 keeps it for ever (docs/retention.md). The defaults of a new
 * installation: an admin changes them at run time through PUT /api/v1/retention, which wins.
 */
export const RetentionSection = T.Object(
  {
    telemetryDays: Days(30),
    rollup1mDays: Days(366),
    rollup1hDays: Days(0),
    messageLogDays: Days(30),
    presenceDays: Days(30),
    commandsDays: Days(90),
    deadLettersDays: Days(30),
    /** Cleared alarms, with their comments; active ones are kept whatever their age. */
    alarmsDays: Days(365),
    /** The record of notifications sent, suppressed or failed. */
    notificationsDays: Days(30),
    /** How often expired data is removed. */
    intervalMs: T.Integer({ minimum: 10_000, default: 3_600_000 }),
    /**
     * The disk guard: past this many bytes of database, the oldest raw telemetry partitions are
     * dropped (one day at a time, never the current one) until it is below; 0 turns it off.
     */
    maxDatabaseBytes: T.Integer({ minimum: 0, default: 0 }),
  },
  { default: {}, additionalProperties: false },
);
