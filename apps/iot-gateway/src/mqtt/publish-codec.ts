import { readVariableByteInteger, type FramedPacket } from "./packet-framing";

/** An incoming PUBLISH as the relay needs it: the payload is a view into the socket's bytes, never copied. */
export interface InboundPublish {
  topic: string;
  qos: 0 | 1 | 2;
  /** Present for QoS 1 and 2. */
  messageId: number | undefined;
  payload: Buffer;
}

/**
 * The variable header of a PUBLISH (MQTT 5.0 §3.3.2): Topic Name, Packet Identifier when QoS > 0,
 * Properties, then the payload to the end. Properties are skipped: the gateway forwards the payload
 * untouched and asks for no Topic Alias (it sends no Topic Alias Maximum, so the broker sends none,
 * [MQTT-3.3.2-9]).
 */
export function decodePublish(packet: FramedPacket): InboundPublish {
  const { bytes } = packet;
  const qos = ((packet.flags >> 1) & 0x03) as 0 | 1 | 2;
  let offset = packet.bodyOffset;
  const topicLength = bytes.readUInt16BE(offset);
  offset += 2;
  const topic = bytes.toString("utf8", offset, offset + topicLength);
  offset += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    messageId = bytes.readUInt16BE(offset);
    offset += 2;
  }
  const properties = readVariableByteInteger(bytes, offset);
  if (!properties || properties.next + properties.value > bytes.length) throw new Error("malformed PUBLISH properties");
  return { topic, qos, messageId, payload: bytes.subarray(properties.next + properties.value) };
}

/**
 * PUBACKs with reason Success, four bytes each: MQTT 5.0 §3.4.2.1 lets the Reason Code and
 * Properties go when the reason is Success and there are none (Remaining Length 2).
 */
export function encodePubacks(messageIds: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(messageIds.length * 4);
  for (let i = 0; i < messageIds.length; i++) {
    const id = messageIds[i]!;
    out[i * 4] = 0x40;
    out[i * 4 + 1] = 0x02;
    out[i * 4 + 2] = id >> 8;
    out[i * 4 + 3] = id & 0xff;
  }
  return out;
}
