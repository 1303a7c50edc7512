import net from "node:net";
import { eventually } from "@umos/testkit";

/**
 * A WebSocket client that subscribes and then stops reading, as a dashboard on a stalled network
 * would: the server's send buffer for it fills, and iot-ws must cut it off rather than buffer for it.
 */
export interface SlowReader {
  /** Reads again; resolves with the close code the server sent (null if none), once the server has ended the connection. */
  drainUntilClosed(timeoutMs: number): Promise<{ ended: boolean; closeCode: number | null }>;
  destroy(): void;
}

export async function openSlowReader(wsUrl: string, token: string, subscription: Record<string, unknown>): Promise<SlowReader> {
  const url = new URL(wsUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.write(
    `GET ${url.pathname}?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  };
  socket.on("data", onData);
  await eventually(() => received.includes("\r\n\r\n"), 5000, "WebSocket upgrade");
  if (!received.toString("latin1").startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${received.toString("latin1").split("\r\n")[0]}`);
  received = received.subarray(received.indexOf("\r\n\r\n") + 4);
  socket.write(maskedText(JSON.stringify({ type: "subscribe", ...subscription })));
  await eventually(() => received.includes('"subscribed"'), 5000, "subscription");
  socket.pause();
  received = Buffer.alloc(0);
  let ended = false;
  socket
    .on("end", () => (ended = true))
    .on("close", () => (ended = true))
    .on("error", () => (ended = true));

  return {
    async drainUntilClosed(timeoutMs) {
      socket.resume();
      await eventually(() => ended, timeoutMs, "the server ending the slow client's connection").catch(() => {});
      return { ended, closeCode: closeCodeIn(received) };
    },
    destroy: () => socket.destroy(),
  };
}

/** Client frames are masked (RFC 6455 §5.3); a zero mask keeps the payload as it is. */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error("subscription too long for this client");
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/** Walks the server's (unmasked) frames for a Close frame and returns its status code (RFC 6455 §5.5.1). */
function closeCodeIn(bytes: Buffer): number | null {
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    const opcode = bytes[offset]! & 0x0f;
    let length = bytes[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (offset + 4 > bytes.length) return null;
      length = bytes.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (offset + 10 > bytes.length) return null;
      length = Number(bytes.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (opcode === 0x8) return length >= 2 && offset + header + 2 <= bytes.length ? bytes.readUInt16BE(offset + header) : null;
    offset += header + length;
  }
  return null;
}
