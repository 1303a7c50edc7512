import { publishEnvelope, publishForGateway, type BusMessage, type Publisher } from "@umos/bus";
import { HEADERS, KINDS, parseRoutingKey, routingKey, type Vendor } from "@umos/contracts";
import { InvalidInputError, type Batcher, type Clock } from "@umos/core";
import type { BatchResult, DeviceRepository, DeviceRoute, LogEntry, PresenceChange } from "@umos/store";
import type { CachedModel, ModelCache } from "@umos/thing-model";
import { adapterFor, type Decoded, type RawFrame, type VendorAdapter } from "@umos/vendors";
import { dedupeKey } from "./dedupe";
import type { createDeviceDirectory } from "./device-directory";
import { checkAgainstModel } from "./model-check";
import { publishPresence } from "./presence";

/** What the uplink's steps work with. */
export interface ProcessorParts {
  publisher: Publisher;
  directory: ReturnType<typeof createDeviceDirectory>;
  models: ModelCache;
  /** Writes log entries; resolves with what was new and which devices came back online. */
  store: Batcher<LogEntry, BatchResult>;
  /** Records a gateway's sub-devices; returns those whose presence changed. */
  applyTopology: DeviceRepository["applyTopology"];
  maxFrameBytes: number;
  dedupeWindowMs: number;
  /** Stamps presence changes, and frames that came without their arrival time. */
  clock: Clock;
}

/** One frame on its way through the uplink: each step reads what the ones before it left. */
export interface FrameWork {
  message: BusMessage;
  frame: RawFrame;
  vendor: Vendor;
  adapter: VendorAdapter;
  /** The device the frame came from. */
  sender: DeviceRoute;
  decoded: Decoded;
  /** Sub-devices whose presence a topology report changed. */
  presence: PresenceChange[];
  /** Per decoded message, the thing model of the device it belongs to. */
  models: (CachedModel | null)[];
  entries: LogEntry[];
  stored: BatchResult;
}

type Step = (work: FrameWork, parts: ProcessorParts) => void | Promise<void>;

/**
 * One raw device frame through the uplink, as named steps in order. A permanent problem throws
 * InvalidInputError, which the bus turns into a dead letter with its reason.
 */
export const UPLINK_STEPS: readonly Step[] = [readFrame, requireDevice, decode, recordTopology, resolveModels, toReal, check, store, publish];

export function createUplinkProcessor(parts: ProcessorParts) {
  return async function processFrame(message: BusMessage): Promise<void> {
    const work = { message } as FrameWork;
    for (const step of UPLINK_STEPS) {
      // Only the steps that wait are awaited: this runs for every frame.
      const waiting = step(work, parts);
      if (waiting) await waiting;
    }
  };
}

/** The raw frame from the AMQP message: its routing key names a device stage, its headers the device. */
export function readFrame(work: FrameWork, parts: ProcessorParts): void {
  const { message } = work;
  const route = parseRoutingKey(message.routingKey);
  const deviceId = message.headers[HEADERS.deviceId];
  const topic = message.headers[HEADERS.mqttTopic];
  if (route?.stage !== "device") throw new InvalidInputError("bad_routing_key", `'${message.routingKey}' is not a device frame key`);
  if (typeof deviceId !== "string" || deviceId === "") throw new InvalidInputError("missing_header", `frame without ${HEADERS.deviceId}`);
  if (message.body.byteLength > parts.maxFrameBytes) {
    throw new InvalidInputError("frame_too_large", `frame of ${message.body.byteLength} bytes exceeds uplink.maxFrameBytes (${parts.maxFrameBytes})`);
  }
  const receivedAt = Number(message.headers[HEADERS.receivedAt]);
  work.frame = {
    deviceId,
    action: route.action,
    topic: typeof topic === "string" ? topic : "",
    payload: message.body,
    messageId: message.messageId ?? Bun.randomUUIDv7(),
    receivedAt: Number.isFinite(receivedAt) && receivedAt > 0 ? receivedAt : parts.clock.now(),
  };
  work.vendor = route.vendor;
  work.adapter = adapterFor(route.vendor);
}

/** The sending device is registered, as the frame's vendor. */
async function requireDevice(work: FrameWork, parts: ProcessorParts): Promise<void> {
  work.sender = await parts.directory.require(work.frame.deviceId, work.vendor);
}

/** The vendor's wire format into envelopes, the answers its protocol expects, and any topology. */
function decode(work: FrameWork): void {
  work.decoded = work.adapter.decode(work.frame);
}

/** A gateway's report of its sub-devices, adopting only new ones or its own (docs/design.md §8). */
async function recordTopology(work: FrameWork, parts: ProcessorParts): Promise<void> {
  const topology = work.decoded.topology;
  work.presence = topology ? await parts.applyTopology(topology.gatewayId, topology.subDevices) : [];
}

/**
 * The thing model of each message's device. A gateway's frame may speak for its own sub-devices
 * only: each message is checked as its own device's.
 */
async function resolveModels(work: FrameWork, parts: ProcessorParts): Promise<void> {
  const { frame, vendor, sender } = work;
  work.models = [];
  for (const m of work.decoded.messages) {
    const route = m.envelope.deviceId === frame.deviceId ? sender : await parts.directory.requireSubDevice(m.envelope.deviceId, vendor, frame.deviceId);
    work.models.push(route.model ? await parts.models(route.model.id, route.model.version) : null);
  }
}

/** Property values in real units, by each device's own model (Tuya sends value x 10^scale). */
export function toReal(work: FrameWork): void {
  for (const [i, m] of work.decoded.messages.entries()) {
    if (m.envelope.kind !== KINDS.propertyReport) continue;
    m.envelope.data = work.adapter.toReal(m.envelope.data as Record<string, unknown>, work.models[i]?.definition ?? null);
  }
}

/** Each message against its model: refused under strict validation, flagged under flag; then keyed for storing once. */
export function check(work: FrameWork, parts: ProcessorParts): void {
  const { frame } = work;
  work.entries = work.decoded.messages.map((m, i) => {
    const problems = checkAgainstModel(work.models[i] ?? null, m.envelope);
    if (problems.length > 0) m.envelope.problems = problems;
    return { envelope: m.envelope, dedupeKey: dedupeKey(m, i, frame, parts.dedupeWindowMs), receivedAt: frame.receivedAt, problems };
  });
}

/** Into the message log once, with which devices came back online. */
async function store(work: FrameWork, parts: ProcessorParts): Promise<void> {
  work.stored = await parts.store.add(work.entries);
}

/**
 * The validated messages and presence changes on the bus, and the device's answers on their way to
 * it. A duplicate frame is not published again; a redelivery is, since its first publish may have
 * failed. Answers go even for a duplicate: the device resends because it did not get ours.
 */
export async function publish(work: FrameWork, parts: ProcessorParts): Promise<void> {
  const { message, frame, vendor, decoded, presence, stored } = work;
  const toPublish = decoded.messages.filter((m) => stored.fresh.has(m.envelope.id) || message.redelivered);
  // `stored` is the whole batch's result, shared by every frame written with this one: each frame
  // announces only its own devices, or N devices coming online in one batch went out N x N times.
  const own = new Set(work.entries.map((e) => e.envelope.deviceId));
  await Promise.all([
    ...toPublish.map((m) => publishEnvelope(parts.publisher, routingKey(vendor, m.stage, m.action), m.envelope)),
    ...stored.cameOnline.filter((d) => own.has(d.id)).map((d) => publishPresence(parts, d.id, vendor, "online", "traffic")),
    ...presence.map((d) => publishPresence(parts, d.id, d.vendor, d.online ? "online" : "offline", "topology")),
    ...decoded.replies.map((reply) => publishForGateway(parts.publisher, { vendor, action: "reply", deviceId: frame.deviceId }, reply)),
  ]);
}
