import { Type as T } from "@sinclair/typebox";
import { ListenHost } from "./schema-types";

// The alarm sections of the configuration (docs/alarms.md).

/** iot-rules: evaluates rules on validated events and keeps alarms (docs/alarms.md). */
export const RulesSection = T.Object(
  {
    /** Health and metrics. */
    host: ListenHost,
    port: T.Integer({ minimum: 0, maximum: 65535, default: 8085 }),
    /** Events delivered and not yet evaluated, at most: what the batches are made of. */
    prefetch: T.Integer({ minimum: 1, maximum: 65535, default: 512 }),
    /** Events evaluated in one transaction, at most; fewer when fewer are waiting. */
    batchSize: T.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
    /** How long the first event of a batch may wait for company. */
    batchWaitMs: T.Integer({ minimum: 0, maximum: 10_000, default: 5 }),
    /**
     * Batches evaluated at once; past it the next batch waits and grows. Batches touching the same
     * devices take turns on their rows, so more rarely helps.
     */
    batchesInFlight: T.Integer({ minimum: 1, maximum: 64, default: 2 }),
    /** How often durations, silences and offline times are checked against the clock. */
    sweepIntervalMs: T.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    /** How long a device's rules are cached: a rule change reaches evaluation within it. */
    ruleCacheMs: T.Integer({ minimum: 0, maximum: 600_000, default: 5000 }),
    /** Pending dead letters at which the platform alarm `platform.dead_letters` is raised (major; 10x: critical); 0: off. */
    deadLetterAlarmAt: T.Integer({ minimum: 0, default: 100 }),
    /** Evaluated event ids are remembered this long, so a redelivery within it changes nothing. */
    seenRetentionMs: T.Integer({ minimum: 60_000, default: 86_400_000 }),
  },
  { default: {}, additionalProperties: false },
);

/** Notifications of alarms and events to webhooks and email (docs/alarms.md, Notifications). */
export const NotificationsSection = T.Object(
  {
    /**
     * Encrypts channel secrets (webhook signing secrets, SMTP passwords) at rest, at least 32 characters;
     * from the environment in production. Unset: channels that carry a secret are refused.
     */
    secretKey: T.Optional(T.String({ minLength: 32 })),
    /** Tries of one delivery before it is dead-lettered (replayable through the dead-letter API). */
    maxAttempts: T.Integer({ minimum: 1, maximum: 100, default: 8 }),
    /** One webhook call or SMTP conversation, at most. */
    timeoutMs: T.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    /** Notifications per channel per minute unless the channel sets its own; past it they are recorded as suppressed. */
    ratePerMinute: T.Integer({ minimum: 1, maximum: 10_000, default: 30 }),
  },
  { default: {}, additionalProperties: false },
);
