import type { BusMessage, Publisher } from "@umos/bus";
import { HEADERS, parseRoutingKey, routingKey } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import type { LogEntry } from "@umos/store";
import { adapterFor, type DecodedMessage, type RawFrame } from "@umos/vendors";
import type { Batcher } from "./batcher";
import { dedupeKey } from "./dedupe";
import type { createDeviceDirectory } from "./device-directory";

export interface UplinkParts {
  publisher: Publisher;
  directory: ReturnType<typeof createDeviceDirectory>;
  /** Writes log entries; resolves with the ids that were new (not duplicates). */
  store: Batcher<LogEntry, Set<string>>;
  maxFrameBytes: number;
  dedupeWindowMs: number;
}

/**
 * One raw device frame through the uplink: read, decode, check the device, store once, publish.
 * A permanent problem throws InvalidInputError, which the bus turns into a dead letter with its reason.
 */
export function createUplinkProcessor(parts: UplinkParts) {
  return async function processFrame(message: BusMessage): Promise<void> {
    const frame = readFrame(message, parts.maxFrameBytes);
    const { vendor } = parseRoutingKey(message.routingKey)!;
    const decoded = adapterFor(vendor).decode(frame);
    await parts.directory.require(frame.deviceId, vendor);
    const entries = decoded.map((m, i) => ({ envelope: m.envelope, dedupeKey: dedupeKey(m, i, frame, parts.dedupeWindowMs), receivedAt: frame.receivedAt }));
    const fresh = await parts.store.add(entries);
    // A duplicate frame is not published again; a redelivery is, since its first publish may have failed.
    const toPublish = decoded.filter((m) => fresh.has(m.envelope.id) || message.redelivered);
    await Promise.all(toPublish.map((m) => publish(parts.publisher, m)));
  };
}

function publish(publisher: Publisher, message: DecodedMessage): Promise<void> {
  const { envelope } = message;
  return publisher.publish(routingKey(envelope.vendor, message.stage, message.action), Buffer.from(JSON.stringify(envelope)), {
    messageId: envelope.id,
    contentType: "application/json",
    headers: { [HEADERS.deviceId]: envelope.deviceId, [HEADERS.vendor]: envelope.vendor },
  });
}

function readFrame(message: BusMessage, maxFrameBytes: number): RawFrame {
  const route = parseRoutingKey(message.routingKey);
  const deviceId = message.headers[HEADERS.deviceId];
  const topic = message.headers[HEADERS.mqttTopic];
  if (!route || route.stage !== "device") throw new InvalidInputError("bad_routing_key", `'${message.routingKey}' is not a device frame key`);
  if (typeof deviceId !== "string" || deviceId === "") throw new InvalidInputError("missing_header", `frame without ${HEADERS.deviceId}`);
  if (message.body.byteLength > maxFrameBytes) {
    throw new InvalidInputError("frame_too_large", `frame of ${message.body.byteLength} bytes exceeds uplink.maxFrameBytes (${maxFrameBytes})`);
  }
  const receivedAt = Number(message.headers[HEADERS.receivedAt]);
  return {
    deviceId,
    action: route.action,
    topic: typeof topic === "string" ? topic : "",
    payload: message.body,
    messageId: message.messageId ?? Bun.randomUUIDv7(),
    receivedAt: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : Date.now(),
  };
}
