import { readVariableByteInteger, type FramedPacket } from "./packet-framing";

/** An incoming PUBLISH as the relay needs it: the payload is a view into the socket's bytes, never copied. */
export interface InboundPublish {
  topic: string;
  qos: 0 | 1 | 2;
  /** Present for QoS 1 and 2. */
  messageId: number | undefined;
  payload: Buffer;
  /** W3C trace context from MQTT 5 User Properties, when the device sent it. */
  traceparent?: string;
  tracestate?: string;
}

/** The protocol level of the CONNECT: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type MqttProtocolVersion = 4 | 5;

/**
 * The variable header of a PUBLISH (MQTT 5.0 §3.3.2): Topic Name, Packet Identifier when QoS > 0,
 * Properties, then the payload to the end. Properties are skipped: the gateway forwards the payload
 * untouched and asks for no Topic Alias (it sends no Topic Alias Maximum, so the broker sends none,
 * [MQTT-3.3.2-9]). MQTT 3.1.1 (§3.3.2) has no Properties: the payload follows the Packet Identifier.
 */
export function decodePublish(packet: FramedPacket, protocolVersion: MqttProtocolVersion = 5): InboundPublish {
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
  if (protocolVersion === 4) return { topic, qos, messageId, payload: bytes.subarray(offset) };
  const properties = readVariableByteInteger(bytes, offset);
  if (!properties || properties.next + properties.value > bytes.length) throw new Error("malformed PUBLISH properties");
  const payload = bytes.subarray(properties.next + properties.value);
  // Most frames carry no properties; only those that do are read, for trace context.
  if (properties.value === 0) return { topic, qos, messageId, payload };
  return { topic, qos, messageId, payload, ...readTraceContext(bytes, properties.next, properties.next + properties.value) };
}

/**
 * PUBACKs with reason Success, four bytes each: MQTT 5.0 §3.4.2.1 lets the Reason Code and
 * Properties go when the reason is Success and there are none (Remaining Length 2), which is also
 * the whole of an MQTT 3.1.1 PUBACK (§3.4), so one encoding serves both.
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

/** Property identifiers (MQTT 5.0 §2.2.2.2) by the length of their value, for skipping those we do not read. */
const BYTE_PROPERTIES = new Set([0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a]);
const TWO_BYTE_PROPERTIES = new Set([0x13, 0x21, 0x22, 0x23]);
const FOUR_BYTE_PROPERTIES = new Set([0x02, 0x11, 0x18, 0x27]);
const VARIABLE_INTEGER_PROPERTIES = new Set([0x0b]);
const USER_PROPERTY = 0x26;

/**
 * `traceparent` and `tracestate` among a PUBLISH's User Properties (W3C trace context, MQTT 5
 * binding). Reads nothing but the properties block; a malformed block yields no trace context
 * rather than an error, since the payload is relayed either way.
 */
export function readTraceContext(bytes: Buffer, start: number, end: number): { traceparent?: string; tracestate?: string } {
  const found: { traceparent?: string; tracestate?: string } = {};
  const readString = (at: number): [string, number] | null => {
    if (at + 2 > end) return null;
    const length = bytes.readUInt16BE(at);
    if (at + 2 + length > end) return null;
    return [bytes.toString("utf8", at + 2, at + 2 + length), at + 2 + length];
  };
  let at = start;
  while (at < end) {
    const id = bytes[at++]!;
    if (id === USER_PROPERTY) {
      const key = readString(at);
      const value = key && readString(key[1]);
      if (!key || !value) return found;
      if (key[0] === "traceparent" || key[0] === "tracestate") found[key[0]] = value[0];
      at = value[1];
    } else if (BYTE_PROPERTIES.has(id)) at += 1;
    else if (TWO_BYTE_PROPERTIES.has(id)) at += 2;
    else if (FOUR_BYTE_PROPERTIES.has(id)) at += 4;
    else if (VARIABLE_INTEGER_PROPERTIES.has(id)) {
      const value = readVariableByteInteger(bytes, at);
      if (!value) return found;
      at = value.next;
    } else {
      // UTF-8 strings and binary data share a two-byte length prefix.
      if (at + 2 > end) return found;
      at += 2 + bytes.readUInt16BE(at);
    }
  }
  return found;
}
