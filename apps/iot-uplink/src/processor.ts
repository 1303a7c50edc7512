import { publishEnvelope, publishForGateway, type BusMessage, type Publisher } from "@umos/bus";
import { HEADERS, KINDS, parseRoutingKey, routingKey, type Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { BatchResult, LogEntry } from "@umos/store";
import type { ModelCache } from "@umos/thing-model";
import { adapterFor, type RawFrame } from "@umos/vendors";
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
  /** Records a gateway's sub-devices; returns those whose presence changed. */
  applyTopology(gatewayId: string, subDevices: string[]): Promise<{ id: string; vendor: Vendor; online: boolean }[]>;
  maxFrameBytes: number;
  dedupeWindowMs: number;
}

/**
 * One raw device frame through the uplink: read, check the device, decode with its vendor's
 * adapter, convert to real values and check each message against its device's thing model, record
 * topology, store once, publish, and answer the device where its protocol expects an answer. A
 * permanent problem throws InvalidInputError, which the bus turns into a dead letter with its reason.
 */
export function createUplinkProcessor(parts: UplinkParts) {
  return async function processFrame(message: BusMessage): Promise<void> {
    const { frame, vendor } = readFrame(message, parts.maxFrameBytes);
    const adapter = adapterFor(vendor);
    const sender = await parts.directory.require(frame.deviceId, vendor);
    const decoded = adapter.decode(frame);

    const presence = decoded.topology ? await parts.applyTopology(decoded.topology.gatewayId, decoded.topology.subDevices) : [];
    const entries: LogEntry[] = [];
    for (const [i, m] of decoded.messages.entries()) {
      // A gateway's frame may speak for its own sub-devices only: each message is checked as its own device's.
      const route = m.envelope.deviceId === frame.deviceId ? sender : await parts.directory.requireSubDevice(m.envelope.deviceId, vendor, frame.deviceId);
      const cached = route.model ? await parts.models(route.model.id, route.model.version) : null;
      if (m.envelope.kind === KINDS.propertyReport) m.envelope.data = adapter.toReal(m.envelope.data as Record<string, unknown>, cached?.definition ?? null);
      const problems = checkAgainstModel(cached, m.envelope);
      if (problems.length > 0) m.envelope.problems = problems;
      entries.push({ envelope: m.envelope, dedupeKey: dedupeKey(m, i, frame, parts.dedupeWindowMs), receivedAt: frame.receivedAt, problems });
    }
    const { fresh, cameOnline } = await parts.store.add(entries);
    // A duplicate frame is not published again; a redelivery is, since its first publish may have failed.
    const toPublish = decoded.messages.filter((m) => fresh.has(m.envelope.id) || message.redelivered);
    await Promise.all([
      ...toPublish.map((m) => publishEnvelope(parts.publisher, routingKey(vendor, m.stage, m.action), m.envelope)),
      ...cameOnline.map((d) => publishPresence(parts.publisher, d.id, vendor, "online", "traffic")),
      ...presence.map((d) => publishPresence(parts.publisher, d.id, d.vendor, d.online ? "online" : "offline", "topology")),
      // Answered even for a duplicate: the device resends because it did not get our answer.
      ...decoded.replies.map((reply) => publishForGateway(parts.publisher, { vendor, action: "reply", deviceId: frame.deviceId }, reply)),
    ]);
  };
}

function readFrame(message: BusMessage, maxFrameBytes: number): { frame: RawFrame; vendor: Vendor } {
  const route = parseRoutingKey(message.routingKey);
  const deviceId = message.headers[HEADERS.deviceId];
  const topic = message.headers[HEADERS.mqttTopic];
  if (route?.stage !== "device") throw new InvalidInputError("bad_routing_key", `'${message.routingKey}' is not a device frame key`);
  if (typeof deviceId !== "string" || deviceId === "") throw new InvalidInputError("missing_header", `frame without ${HEADERS.deviceId}`);
  if (message.body.byteLength > maxFrameBytes) {
    throw new InvalidInputError("frame_too_large", `frame of ${message.body.byteLength} bytes exceeds uplink.maxFrameBytes (${maxFrameBytes})`);
  }
  const receivedAt = Number(message.headers[HEADERS.receivedAt]);
  const frame = {
    deviceId,
    action: route.action,
    topic: typeof topic === "string" ? topic : "",
    payload: message.body,
    messageId: message.messageId ?? Bun.randomUUIDv7(),
    receivedAt: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : Date.now(),
  };
  return { frame, vendor: route.vendor };
}
