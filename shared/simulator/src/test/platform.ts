import type { Envelope, Vendor } from "@umos/contracts";
import { adapterFor, routeTopic, type DecodedMessage } from "@umos/vendors";
import type { Frame } from "../behaviour";

/**
 * For the tests only: simulated devices are checked against the platform's own vendor adapters, so
 * what a device sends must decode as the message it stands for, and the commands it answers are the
 * ones the platform encodes.
 */
export const COMMAND_ID = "01936d3f-5a2b-7c4d-8e9f-0a1b2c3d4e5f";

export function decode(frame: Frame): { messages: DecodedMessage[]; replies: Frame[] } {
  const route = routeTopic(frame.topic);
  if (!route) throw new Error(`the platform takes no frames on ${frame.topic}`);
  const decoded = adapterFor(route.vendor).decode({
    deviceId: route.deviceId,
    action: route.action,
    topic: frame.topic,
    payload: Buffer.from(frame.payload),
    messageId: "01900000-0000-7000-8000-000000000001",
    receivedAt: Date.now(),
  });
  return { messages: decoded.messages, replies: decoded.replies.map((r) => ({ topic: r.topic, payload: Buffer.from(r.payload).toString() })) };
}

/** A command as the platform sends it, with `COMMAND_ID` as its id. */
export function command(vendor: Vendor, deviceId: string, kind: string, data: unknown, gatewayId: string | null = null): Frame {
  const envelope: Envelope = { id: COMMAND_ID, ts: Date.now(), vendor, deviceId, kind, data, correlationId: COMMAND_ID };
  const encoded = adapterFor(vendor).encode(envelope, { definition: null, gatewayId });
  return { topic: encoded.topic, payload: Buffer.from(encoded.payload).toString() };
}
