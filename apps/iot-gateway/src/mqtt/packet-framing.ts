/**
 * MQTT 5 control packets cut out of the socket's byte stream (MQTT 5.0 §2.1: a fixed header with
 * the packet type and a Variable Byte Integer "Remaining Length"). Each packet is handed over as a
 * view into the chunk it arrived in; bytes are copied only when a packet straddles chunks, and then
 * once, when its last byte is in.
 */
export interface FramedPacket {
  /** Control packet type, the high nibble of the first byte (3 = PUBLISH, 4 = PUBACK, ...). */
  type: number;
  /** The low nibble: DUP, QoS and RETAIN for a PUBLISH. */
  flags: number;
  /** The whole packet, fixed header included. */
  bytes: Buffer;
  /** Where the variable header starts within `bytes`. */
  bodyOffset: number;
}

export const PUBLISH = 3;

/** One per connection: a new connection starts a new byte stream. */
export function createFramer(onPacket: (packet: FramedPacket) => void) {
  // The start of an incomplete packet, and how many bytes it needs in all (0 while its header is incomplete).
  let parts: Buffer[] = [];
  let buffered = 0;
  let needed = 0;
  return {
    push(chunk: Buffer): void {
      let buffer = chunk;
      if (parts.length > 0) {
        parts.push(chunk);
        buffered += chunk.length;
        if (buffered < needed) return;
        buffer = Buffer.concat(parts, buffered);
        parts = [];
      }
      let offset = 0;
      let header = readFixedHeader(buffer, offset);
      while (header && header.end <= buffer.length) {
        const first = buffer[offset]!;
        onPacket({ type: first >> 4, flags: first & 0x0f, bytes: buffer.subarray(offset, header.end), bodyOffset: header.bodyStart - offset });
        offset = header.end;
        header = readFixedHeader(buffer, offset);
      }
      if (offset < buffer.length) {
        parts = [buffer.subarray(offset)];
        buffered = buffer.length - offset;
        needed = header ? header.end - offset : 0;
      }
    },
  };
}

/** The fixed header at `offset`: where the body starts and the packet ends; null until all of it is here. */
function readFixedHeader(buffer: Buffer, offset: number): { bodyStart: number; end: number } | null {
  const length = readVariableByteInteger(buffer, offset + 1);
  if (!length) return null;
  return { bodyStart: length.next, end: length.next + length.value };
}

/**
 * MQTT 5.0 §1.5.5: seven bits a byte, least significant first, at most four bytes. Null when the
 * buffer ends first; throws on a fifth byte, which no well-formed packet has.
 */
export function readVariableByteInteger(buffer: Buffer, offset: number): { value: number; next: number } | null {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= buffer.length) return null;
    const byte = buffer[offset + i]!;
    value += (byte & 0x7f) * 128 ** i;
    if (byte < 0x80) return { value, next: offset + i + 1 };
  }
  throw new Error("malformed Variable Byte Integer");
}
