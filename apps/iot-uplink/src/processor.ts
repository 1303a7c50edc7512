import { publishEnvelope, type BusMessage, type Publisher } from "@umos/bus";
import { HEADERS, parseRoutingKey, routingKey } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import type { BatchResult, LogEntry } from "@umos/store";
import type { ModelCache } from "@umos/thing-model";
import { adapterFor, type DecodedMessage, type RawFrame } from "@umos/vendors";
import type { Batcher } from "./batcher";
import { dedupeKey } from "./dedupe";
import type { createDeviceDirectory } from "./device-directory";
import { checkAgainstModel } from "./model-check";
import { publishPresence } from "./presence";


export interface UplinkParts {
  publisher: Publisher;
  directory: ReturnType<typeof createDeviceDirectory>;
  models: ModelCache;
  /** Writes log entries; resolves with what was new and which devices came back online. */
  store: Batcher<LogEntry, BatchResult>;
  maxFrameBytes: number;
  dedupeWindowMs: number;
}

/**
 * One raw device frame through the uplink: read, decode, check the device and its thing model,
 * store once, publish. A permanent problem throws InvalidInputError, which the bus turns into a
 * dead letter with its reason.
 */
export function createUplinkProcessor(parts: UplinkParts) {
  return async function processFrame(message: BusMessage): Promise<void> {
    const frame = readFrame(message, parts.maxFrameBytes);
    const { vendor } = parseRoutingKey(message.routingKey)!;
    const decoded = adapterFor(vendor).decode(frame);
    const route = await parts.directory.require(frame.deviceId, vendor);
    const entries: LogEntry[] = [];
    for (const [i, m] of decoded.entries()) {
      const problems = await checkAgainstModel(parts.models, route.model, m.envelope);
      if (problems.length > 0) m.envelope.problems = problems;
      entries.push({ envelope: m.envelope, dedupeKey: dedupeKey(m, i, frame, parts.dedupeWindowMs), receivedAt: frame.receivedAt, problems });
    }
    const { fresh, cameOnline } = await parts.store.add(entries);
    // A duplicate frame is not published again; a redelivery is, since its first publish may have failed.
    const toPublish = decoded.filter((m) => fresh.has(m.envelope.id) || message.redelivered);
    await Promise.all([
      ...toPublish.map((m) => publishDecoded(parts.publisher, m)),
      ...cameOnline.filter((d) => d.id === frame.deviceId).map(() => publishPresence(parts.publisher, frame.deviceId, vendor, "online", "traffic")),
    ]);
  };
}

function publishDecoded(publisher: Publisher, message: DecodedMessage): Promise<void> {
  return publishEnvelope(publisher, routingKey(message.envelope.vendor, message.stage, message.action), message.envelope);
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
