import { Type as T, type Static } from "@sinclair/typebox";

const Millis = (def: number) => T.Integer({ minimum: 1, default: def });

/** The whole UMOS configuration. Units are in the key names; every key has a safe default but the URLs. */
export const UmosConfigSchema = T.Object(
  {
    env: T.Union([T.Literal("dev"), T.Literal("prod"), T.Literal("test")], { default: "dev" }),
    /** Identifies this process among replicas: names its iot-ws queue and its MQTT client ids. */
    instance: T.String({ minLength: 1, pattern: "^[A-Za-z0-9._-]+$", default: "local" }),
    shutdownTimeoutMs: Millis(10_000),
    log: T.Object(
      {
        level: T.Union([T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")], { default: "info" }),
        format: T.Union([T.Literal("pretty"), T.Literal("json")], { default: "pretty" }),
      },
      { default: {}, additionalProperties: false },
    ),
    rabbitmq: T.Object(
      {
        url: T.String({ pattern: "^amqps?://" }),
        /** classic for development; quorum in production (replicated, ~1.3x faster here, FINDINGS.md). */
        queueType: T.Union([T.Literal("classic"), T.Literal("quorum")], { default: "classic" }),
        prefetch: T.Integer({ minimum: 1, maximum: 65535, default: 256 }),
        reconnectInitialMs: Millis(200),
        reconnectMaxMs: Millis(10_000),
        /** Attempts of a message whose handler failed with a retryable error before it is dead-lettered. */
        maxAttempts: T.Integer({ minimum: 1, maximum: 1000, default: 5 }),
      },
      { additionalProperties: false },
    ),
    mqtt: T.Object(
      {
        url: T.String({ pattern: "^mqtts?://" }),
        username: T.Optional(T.String()),
        password: T.Optional(T.String()),
        /** MQTT 5 shared-subscription group the gateway replicas share device traffic in. */
        sharedGroup: T.String({ minLength: 1, pattern: "^[^/+#]+$", default: "iot-gateway" }),
        /** false subscribes without `$share/` (a broker without shared subscriptions; one replica only). */
        sharedSubscriptions: T.Boolean({ default: true }),
        /** Receive Maximum: QoS 1 messages in flight towards one gateway connection. */
        receiveMaximum: T.Integer({ minimum: 1, maximum: 65535, default: 1024 }),
        keepaliveSec: T.Integer({ minimum: 0, maximum: 65535, default: 30 }),
        /** Session Expiry Interval: how long the broker keeps the gateway's queue while it is away. */
        sessionExpirySec: T.Integer({ minimum: 0, default: 3600 }),
        reconnectInitialMs: Millis(200),
        reconnectMaxMs: Millis(10_000),
      },
      { additionalProperties: false },
    ),
    postgres: T.Object(
      {
        url: T.String({ pattern: "^postgres(ql)?://" }),
        maxConnections: T.Integer({ minimum: 1, maximum: 1000, default: 10 }),
      },
      { additionalProperties: false },
    ),
    api: T.Object(
      {
        host: T.String({ default: "0.0.0.0" }),
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        bodyLimitBytes: T.Integer({ minimum: 1024, default: 1_048_576 }),
      },
      { default: {}, additionalProperties: false },
    ),
    ws: T.Object(
      {
        host: T.String({ default: "0.0.0.0" }),
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
        /** A client whose unsent backlog passes this is disconnected (1008) rather than slowing others. */
        maxBufferedBytes: T.Integer({ minimum: 1024, default: 4_194_304 }),
        maxMessageBytes: T.Integer({ minimum: 256, default: 65_536 }),
      },
      { default: {}, additionalProperties: false },
    ),
    uplink: T.Object(
      {
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8082 }),
        batchSize: T.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
        batchWaitMs: T.Integer({ minimum: 0, maximum: 10_000, default: 5 }),
        /** Frames without the device's own `id` are deduplicated on a payload hash within this window. */
        dedupeWindowMs: Millis(10_000),
        maxFrameBytes: T.Integer({ minimum: 256, default: 262_144 }),
      },
      { default: {}, additionalProperties: false },
    ),
    downlink: T.Object(
      {
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8083 }),
        /** How often timeouts, expiries and commands waiting for an offline device are checked. */
        sweepIntervalMs: T.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
      },
      { default: {}, additionalProperties: false },
    ),
    commands: T.Object(
      {
        /** From `sent` to the device's reply; a command's own `timeoutMs` overrides it. */
        defaultTimeoutMs: T.Integer({ minimum: 100, default: 30_000 }),
        maxTimeoutMs: T.Integer({ minimum: 100, default: 3_600_000 }),
        /** How long a command may wait for an offline device before it expires unsent. */
        defaultTtlMs: T.Integer({ minimum: 100, default: 86_400_000 }),
        maxTtlMs: T.Integer({ minimum: 100, default: 604_800_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    presence: T.Object(
      {
        /** A device silent this long is marked offline even without a last will. */
        silenceMs: T.Integer({ minimum: 1000, default: 300_000 }),
        sweepIntervalMs: T.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    gateway: T.Object(
      {
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8084 }),
        /** MQTT connections this replica opens in the shared group: more spreads parsing over more sockets. */
        connections: T.Integer({ minimum: 1, maximum: 64, default: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type UmosConfig = Static<typeof UmosConfigSchema>;
