import type { DecodedMessage, RawFrame } from "@umos/vendors";

/**
 * The key a message is stored once under, per device (docs/design.md §3). A frame the MQTT broker resends
 * after a gateway crash carries a new AMQP message-id, so the device's own id is what recognises
 * it; without one, a hash of topic and payload within a time window does (identical payloads in one
 * window are then taken for one: devices should send `id` or `ts`).
 */
export function dedupeKey(message: DecodedMessage, index: number, frame: RawFrame, windowMs: number): string {
  const suffix = index === 0 ? "" : `#${index}`;
  if (message.deviceMessageId !== undefined) return `id:${message.deviceMessageId}${suffix}`;
  const window = Math.floor(frame.receivedAt / windowMs);
  return `h:${window}:${Bun.hash(frame.topic).toString(36)}:${Bun.hash(frame.payload).toString(36)}${suffix}`;
}
