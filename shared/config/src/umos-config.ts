import { FirmwareSection } from "./firmware-section";
import { Type as T, type Static } from "@sinclair/typebox";

import { ListenHost, Millis } from "./schema-types";
import { NotificationsSection, RulesSection } from "./alarm-sections";
import { InfluxSection, RetentionSection, TimeSeriesSection } from "./telemetry-sections";

/** A listener's certificate and key (PEM files); present = TLS on. */
const ServerTls = T.Optional(T.Object({ certFile: T.String({ minLength: 1 }), keyFile: T.String({ minLength: 1 }) }, { additionalProperties: false }));

/**
 * The development JWT secret of configs/config.dev.yaml. It is public (it is in the repository), so
 * production refuses it and no mode lets a listener carry it beyond loopback (listenerProblems).
 */
export const DEV_JWT_SECRET = "umos-development-secret-not-for-production";

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
    /** The message bus: RabbitMQ, or standalone mode's embedded bus. Formerly `rabbitmq`, still read (with a warning). */
    bus: T.Object(
      {
        /**
         * amqp(s)://user:pass@host:port/vhost for RabbitMQ, or `embedded:<path>[?synchronous=normal|full]`
         * for the embedded bus: one SQLite file, e.g. embedded:./data/bus.sqlite (docs/standalone.md, Embedded bus).
         */
        url: T.String({ pattern: "^(amqps?://|embedded:.)" }),
        /** classic for development; quorum in production (replicated, ~1.3x faster here, docs/findings.md). */
        queueType: T.Union([T.Literal("classic"), T.Literal("quorum")], { default: "classic" }),
        prefetch: T.Integer({ minimum: 1, maximum: 65535, default: 256 }),
        reconnectInitialMs: Millis(200),
        reconnectMaxMs: Millis(10_000),
        /** Attempts of a message whose handler failed with a retryable error before it is dead-lettered. */
        maxAttempts: T.Integer({ minimum: 1, maximum: 1000, default: 5 }),
        /** CA bundle (PEM) to trust for amqps:// besides the system's. */
        caFile: T.Optional(T.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    mqtt: T.Object(
      {
        url: T.String({ pattern: "^mqtts?://" }),
        /** The gateway's broker account; an empty name or password is refused at start-up, never sent. */
        username: T.Optional(T.String({ minLength: 1 })),
        password: T.Optional(T.String({ minLength: 1 })),
        /** MQTT 5 shared-subscription group the gateway replicas share device traffic in. */
        sharedGroup: T.String({ minLength: 1, pattern: "^[^/+#]+$", default: "iot-gateway" }),
        /** false subscribes without `$share/` (a broker without shared subscriptions; one replica only). */
        sharedSubscriptions: T.Boolean({ default: true }),
        /**
         * 5 (MQTT 5.0), or 4 (MQTT 3.1.1) for a broker without MQTT 5, such as standalone mode's: the
         * session is then kept by Clean Session 0 with no expiry, and receiveMaximum bounds the frames
         * the gateway reads ahead of their PUBACKs, since 3.1.1 cannot ask the broker to.
         */
        protocolVersion: T.Union([T.Literal(4), T.Literal(5)], { default: 5 }),
        /** Receive Maximum: QoS 1 messages in flight towards one gateway connection. */
        receiveMaximum: T.Integer({ minimum: 1, maximum: 65535, default: 1024 }),
        /**
         * Bytes of messages one gateway connection holds until RabbitMQ confirms them; past it the
         * connection stops reading and the broker holds the rest. Bounds memory where large payloads
         * would fill the Receive Maximum (the 256 MiB an MQTT message may carry, times 1,024), and
         * QoS 0 messages, which the Receive Maximum does not count.
         */
        maxInFlightBytes: T.Integer({ minimum: 65_536, default: 16 * 1024 * 1024 }),
        keepaliveSec: T.Integer({ minimum: 0, maximum: 65535, default: 30 }),
        /** Session Expiry Interval: how long the broker keeps the gateway's queue while it is away. */
        sessionExpirySec: T.Integer({ minimum: 0, default: 3600 }),
        reconnectInitialMs: Millis(200),
        reconnectMaxMs: Millis(10_000),
        /** For mqtts://: a CA bundle to trust, and a client certificate where the broker asks for one. */
        caFile: T.Optional(T.String({ minLength: 1 })),
        certFile: T.Optional(T.String({ minLength: 1 })),
        keyFile: T.Optional(T.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    postgres: T.Object(
      {
        url: T.String({ pattern: "^postgres(ql)?://" }),
        maxConnections: T.Integer({ minimum: 1, maximum: 1000, default: 10 }),
        /**
         * How long opening a connection may take. postgres.js waits 30 s by default, and a connect
         * caught in a network cut can hang that long: queries behind it stalled requests and a
         * command's answer past its timeout (fault suite).
         */
        connectTimeoutMs: T.Integer({ minimum: 100, default: 5000 }),
      },
      { additionalProperties: false },
    ),
    /**
     * Host names the HTTP and WebSocket listeners answer, comma-separated (a leading `*.` matches
     * subdomains); any other `Host` header is refused (400), which defeats DNS rebinding. Unset: the
     * localhost names and each listener's own address, or any name for a listener on 0.0.0.0 / ::.
     */
    allowedHosts: T.Optional(T.String({ minLength: 1, maxLength: 4096 })),
    api: T.Object(
      {
        host: ListenHost,
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        bodyLimitBytes: T.Integer({ minimum: 1024, default: 1_048_576 }),
        /** The body limit of a bulk device import (POST /api/v1/devices/import, up to 10,000 rows). */
        importLimitBytes: T.Integer({ minimum: 1024, default: 16_777_216 }),
        /** A request not answered by then gets 503 while its work runs on (docs/configuration.md). */
        requestTimeoutMs: T.Integer({ minimum: 100, default: 8000 }),
        /** The WebSocket URL the web console connects to; by default the console's own host on ws.port. */
        consoleWsUrl: T.Optional(T.String({ pattern: "^wss?://" })),
        tls: ServerTls,
      },
      { default: {}, additionalProperties: false },
    ),
    ws: T.Object(
      {
        host: ListenHost,
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
        /** A client whose unsent backlog passes this is disconnected (1008) rather than slowing others. */
        maxBufferedBytes: T.Integer({ minimum: 1024, default: 4_194_304 }),
        maxMessageBytes: T.Integer({ minimum: 256, default: 65_536 }),
        /** Client messages per second per connection, as a token bucket of this size; past it: closed (1008). */
        maxMessagesPerSecond: T.Integer({ minimum: 1, default: 20 }),
        tls: ServerTls,
      },
      { default: {}, additionalProperties: false },
    ),
    uplink: T.Object(
      {
        /** Health and metrics. */
        host: ListenHost,
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8082 }),
        batchSize: T.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
        batchWaitMs: T.Integer({ minimum: 0, maximum: 10_000, default: 5 }),
        /**
         * Batch writes running at once; past it the next batch waits and grows (up to batchSize). A
         * slow database then gets a few large transactions, not hundreds of small ones queued on the
         * same devices' rows.
         */
        batchesInFlight: T.Integer({ minimum: 1, maximum: 64, default: 4 }),
        /** Frames without the device's own `id` are deduplicated on a payload hash within this window. */
        dedupeWindowMs: Millis(10_000),
        maxFrameBytes: T.Integer({ minimum: 256, default: 262_144 }),
        /** How long a device's registration and thing model version are cached: a change reaches the uplink within it. */
        deviceCacheMs: Millis(10_000),
      },
      { default: {}, additionalProperties: false },
    ),
    downlink: T.Object(
      {
        /** Health and metrics. */
        host: ListenHost,
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8083 }),
        /** How often timeouts, expiries and commands waiting for an offline device are checked. */
        sweepIntervalMs: T.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
        /** How often jobs are started, settled and given their turn (docs/fleet.md). */
        jobIntervalMs: T.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
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
    auth: T.Object(
      {
        /** Off only for local experiments: every REST and WebSocket request is then an admin. */
        enabled: T.Boolean({ default: true }),
        algorithm: T.Union([T.Literal("HS256"), T.Literal("RS256"), T.Literal("ES256")], { default: "HS256" }),
        /** HS256 signing secret (at least 32 characters); from the environment in production. */
        secret: T.Optional(T.String({ minLength: 32 })),
        /** RS256/ES256: the identity provider's JWKS URL. */
        jwksUrl: T.Optional(T.String({ pattern: "^https?://" })),
        issuer: T.String({ minLength: 1, default: "umos" }),
        audience: T.String({ minLength: 1, default: "umos-api" }),
        clockToleranceSec: T.Integer({ minimum: 0, maximum: 300, default: 30 }),
        /**
         * The VerneMQ webhooks require `?token=<this>` in their endpoint URL; unset, they refuse every
         * call (standalone and dev need none). Required in production.
         */
        webhookToken: T.Optional(T.String({ minLength: 16 })),
        /** How long VerneMQ may cache a publish or subscribe yes (cache-control max-age); logins are never cached. */
        webhookCacheSec: T.Integer({ minimum: 0, default: 300 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Production with plain listeners is allowed only behind a TLS-terminating proxy that says so here. */
    tlsOffloaded: T.Boolean({ default: false }),
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
        /** Health and metrics. */
        host: ListenHost,
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8084 }),
        /** Larger device payloads are not relayed but dead-lettered with the reason. */
        maxPayloadBytes: T.Integer({ minimum: 256, default: 262_144 }),
        /** MQTT connections this replica opens in the shared group: more spreads parsing over more sockets. */
        connections: T.Integer({ minimum: 1, maximum: 64, default: 1 }),
        /**
         * Store and forward (docs/deployment.md, Edge store and forward): while RabbitMQ is out of reach, device
         * frames are acknowledged once on this local disk and forwarded in order later. Off by default:
         * acknowledged frames then live only on this replica's disk, which an edge host keeps and a
         * rescheduled pod does not.
         */
        spool: T.Object(
          {
            enabled: T.Boolean({ default: false }),
            /** SQLite file (WAL); its directory must exist and survive restarts. */
            path: T.String({ minLength: 1, default: "/var/lib/umos/iot-gateway-spool.db" }),
            /** Past either bound the gateway stops acknowledging and the MQTT broker holds the rest. */
            maxMessages: T.Integer({ minimum: 1, default: 1_000_000 }),
            maxBytes: T.Integer({ minimum: 65_536, default: 1_073_741_824 }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Traces (docs/operations.md): W3C trace context across HTTP, AMQP and MQTT 5, exported over OTLP. */
    tracing: T.Object(
      {
        /** OTLP/HTTP protobuf endpoint, e.g. http://tempo:4318/v1/traces; unset: spans are made for logs but not exported. */
        otlpUrl: T.Optional(T.String({ pattern: "^https?://" })),
        /** Share of new traces recorded where a message enters UMOS; a sampled parent is always followed. */
        sampleRatio: T.Number({ minimum: 0, maximum: 1, default: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    timeseries: TimeSeriesSection,
    influx: InfluxSection,
    retention: RetentionSection,
    rules: RulesSection,
    notifications: NotificationsSection,
    firmware: FirmwareSection,
  },
  { additionalProperties: false },
);

export type UmosConfig = Static<typeof UmosConfigSchema>;
