/** Vendors UMOS speaks. Adding one is a folder in shared/vendors and a member here. */
export const VENDORS = ["dji", "tuya", "generic"] as const;
export type Vendor = (typeof VENDORS)[number];

export function isVendor(value: string): value is Vendor {
  return (VENDORS as readonly string[]).includes(value);
}

/** The stage a message is at (docs/design.md §2); the third segment of its routing key. */
export type Stage = "device" | "event" | "service" | "gateway";

export function isStage(value: string): value is Stage {
  // Compared, not looked up: every consumer checks the key of every message.
  return value === "device" || value === "event" || value === "service" || value === "gateway";
}

export const EXCHANGE = "iot";
export const DEAD_LETTER_EXCHANGE = "iot.dlx";
export const DEAD_LETTER_QUEUE = "iot-dead-letter";
/**
 * A headers exchange every durable queue is bound to by its own name (header `replay-queue`):
 * a dead letter replayed through it reaches the one queue it died in, keeping its routing key,
 * where the topic exchange would fan an event out to every queue bound to it again.
 */
export const REPLAY_EXCHANGE = "iot.replay";
/** The first-death queue the gateway names for a frame it refused before it reached the bus. */
export const GATEWAY_EDGE = "iot-gateway";

export const QUEUES = {
  uplink: "iot-uplink-queue",
  downlink: "iot-downlink-queue",
  gateway: "iot-gateway-queue",
  /** Property and event reports for the time-series writer; declared by its consumer (shared/bus topology). */
  telemetry: "iot-telemetry-queue",
  /** Validated events for iot-rules; declared by its consumer. */
  rules: "iot-rules-queue",
  /** Alarm, presence and command events for the notifier in iot-rules; declared by its consumer. */
  notify: "iot-notify-queue",
} as const;

/** Each iot-ws replica's own queue: every replica sees all validated traffic. */
export const wsQueueName = (instance: string) => `iot-ws-queue.${instance}`;

/** `iot.{vendor}.{stage}.{action}`; the action may hold dots. */
export function routingKey(vendor: Vendor, stage: Stage, action: string): string {
  return `iot.${vendor}.${stage}.${action}`;
}

export interface ParsedRoutingKey {
  vendor: Vendor;
  stage: Stage;
  action: string;
}

export function parseRoutingKey(key: string): ParsedRoutingKey | undefined {
  // Sliced rather than split and joined again: every consumer parses the key of every message.
  if (!key.startsWith("iot.")) return undefined;
  const vendorEnd = key.indexOf(".", 4);
  const stageEnd = vendorEnd < 0 ? -1 : key.indexOf(".", vendorEnd + 1);
  if (stageEnd < 0) return undefined;
  const vendor = key.slice(4, vendorEnd);
  const stage = key.slice(vendorEnd + 1, stageEnd);
  if (!isVendor(vendor)) return undefined;
  if (!isStage(stage)) return undefined;
  return { vendor, stage, action: key.slice(stageEnd + 1) };
}

/**
 * AMQP metadata (docs/design.md §2). message-id and content-type travel in the AMQP basic properties
 * `messageId` and `contentType`; the rest are headers, kept few and short because every header
 * costs broker CPU per message (docs/findings.md: four headers cost 11%).
 */
export const HEADERS = {
  deviceId: "x-device-id",
  vendor: "x-vendor",
  mqttTopic: "x-mqtt-topic",
  receivedAt: "x-received-at",
  traceparent: "traceparent",
  tracestate: "tracestate",
  deadLetterReason: "x-dead-letter-reason",
  deadLetterCode: "x-dead-letter-code",
  deadLetterQueue: "x-dead-letter-queue",
  /** A dead letter whose body was cut (an oversized device payload): its size before the cut. */
  originalSize: "x-original-size",
  /**
   * Set on a replayed dead letter: the queue it is for (REPLAY_EXCHANGE's binding) and how many times
   * it was replayed. Not `x-`: a headers exchange ignores binding arguments that start with `x-`.
   */
  replayQueue: "replay-queue",
  replayCount: "x-replay-count",
} as const;

/**
 * Sub-devices one gateway frame may list (DJI update_topo): a dock reports one aircraft, an RC a few.
 * A longer list is refused as a whole, never cut.
 */
export const MAX_SUB_DEVICES = 16;

/** MQTT client ids of UMOS's own gateway connections: `iot-gateway-<instance>-<n>`, stable across restarts. */
export const GATEWAY_CLIENT_PREFIX = "iot-gateway-";
export const gatewayClientId = (instance: string, connection: number) => `${GATEWAY_CLIENT_PREFIX}${instance}-${connection}`;
