import type { BusMessage } from "@umos/bus";
import { HEADERS } from "@umos/contracts";
import type { NewDeadLetter } from "@umos/store";

/** Bodies above this are archived cut, with their full size: enough to see what came, not a copy of a flood. */
export const ARCHIVE_PAYLOAD_BYTES = 1_048_576;

const TEXT_LIMIT = 1024;
/** Indexed columns (queue, code, device): a B-tree key holds at most 2,704 bytes. */
const KEY_LIMIT = 200;
const HEADER_DEPTH = 8;

/**
 * A message of the iot-dead-letter queue as a row. Two kinds arrive: UMOS's own (bus.deadLetter:
 * code, reason and queue in x-dead-letter-* headers) and RabbitMQ's (a queue's x-dead-letter-exchange
 * after a reject, an expiry or a length limit: x-first-death-queue/-reason and x-death). Never
 * throws: a dead letter the archiver refused would have nowhere left to go.
 */
export function toDeadLetterRecord(message: BusMessage, now: Date): NewDeadLetter {
  const h = message.headers;
  const firstDeath = text(h["x-first-death-reason"]);
  const queue = text(h[HEADERS.deadLetterQueue], KEY_LIMIT) ?? text(h["x-first-death-queue"], KEY_LIMIT) ?? "unknown";
  const code = text(h[HEADERS.deadLetterCode], KEY_LIMIT) ?? (firstDeath ? `rabbitmq_${firstDeath}`.slice(0, KEY_LIMIT) : "unknown");
  const reason =
    text(h[HEADERS.deadLetterReason]) ?? (firstDeath ? `RabbitMQ dead-lettered it from '${queue}' (${firstDeath})` : "dead-lettered without a reason");
  const originalSize = Number(h[HEADERS.originalSize]);
  const headers = jsonSafe(h, 0) as Record<string, unknown>;
  return {
    dedupeKey: dedupeKey(message, headers),
    queue,
    code,
    reason,
    routingKey: text(message.routingKey) ?? "",
    messageId: text(message.messageId) ?? null,
    contentType: text(message.contentType) ?? null,
    deviceId: text(h[HEADERS.deviceId], KEY_LIMIT) ?? null,
    headers,
    payload: message.body.subarray(0, ARCHIVE_PAYLOAD_BYTES),
    payloadSize: Number.isSafeInteger(originalSize) && originalSize > message.body.byteLength ? originalSize : message.body.byteLength,
    replayCount: Math.max(0, Math.trunc(Number(h[HEADERS.replayCount]) || 0)),
    deadLetteredAt: deathTime(h) ?? now,
  };
}

/** A redelivery carries the same routing key, properties, headers and body: the same key. */
function dedupeKey(message: BusMessage, headers: Record<string, unknown>): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(`${message.routingKey}\u0000${message.messageId ?? ""}\u0000${message.contentType ?? ""}\u0000`);
  hasher.update(JSON.stringify(headers));
  hasher.update("\u0000");
  hasher.update(message.body);
  return hasher.digest("base64");
}

/** RabbitMQ's x-death records when the message died (AMQP timestamp: seconds). */
function deathTime(headers: Record<string, unknown>): Date | undefined {
  const deaths = headers["x-death"];
  const time = Array.isArray(deaths) ? (deaths[0] as { time?: unknown } | undefined)?.time : undefined;
  const value = time instanceof Date ? time.getTime() : typeof time === "number" ? time * 1000 : Number.NaN;
  return Number.isFinite(value) && value > 0 && value < 8.64e15 ? new Date(value) : undefined;
}

/** A short, storable string: PostgreSQL text takes no NUL and no lone surrogate. */
function text(value: unknown, limit = TEXT_LIMIT): string | undefined {
  if (typeof value === "string") return clean(value.slice(0, limit)) || undefined;
  if (Buffer.isBuffer(value)) return text(value.toString("utf8"), limit);
  return undefined;
}

function clean(value: string): string {
  return value.toWellFormed().replaceAll("\u0000", "\uFFFD");
}

/** AMQP header values as JSON jsonb accepts: bytes as UTF-8 text where they are, else base64. */
function jsonSafe(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return clean(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) {
    const utf8 = decodeUtf8(value);
    return utf8 === undefined ? Buffer.from(value).toString("base64") : clean(utf8);
  }
  if (depth >= HEADER_DEPTH) return null;
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[clean(k)] = jsonSafe(v, depth + 1);
    return out;
  }
  return clean(String(value));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
