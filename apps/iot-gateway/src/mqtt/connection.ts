import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import mqttPacket, { type Packet } from "mqtt-packet";
import { UnavailableError, backoffDelay, type Logger } from "@umos/core";
import { createAckOrder } from "./ack-order";
import { createFramer, PUBLISH, type FramedPacket } from "./packet-framing";
import { decodePublish, encodePubacks, type InboundPublish, type MqttProtocolVersion } from "./publish-codec";

export interface MqttConnectionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  keepaliveSec: number;
  /** 5 unless the broker speaks only MQTT 3.1.1 (4). */
  protocolVersion?: MqttProtocolVersion;
  /** MQTT 5 only: 3.1.1 keeps a Clean Session 0 session until the client returns. */
  sessionExpirySec: number;
  /**
   * Receive Maximum: QoS 1 PUBLISHes the broker may have in flight to us; our backpressure. With
   * MQTT 3.1.1 the broker cannot be told, so the socket stops being read while this many wait for
   * their PUBACK, and our own publishes keep to it as well.
   */
  receiveMaximum: number;
  /**
   * PUBLISH bytes held until they are safe: past this the socket is not read until some are, so
   * large frames cannot pile up in memory within the Receive Maximum, nor QoS 0 frames, which it
   * does not count, while RabbitMQ is slow (the broker holds them).
   */
  maxInFlightBytes: number;
  /** Full topic filters, `$share/...` included; subscribed at QoS 1. */
  subscriptions: readonly string[];
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** mqtts://: a CA bundle to trust, and a client certificate and key where the broker asks for one (PEM files). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  log: Logger;
  /**
   * An arrived PUBLISH; call `safe` once the message is safe elsewhere: that releases its PUBACK
   * (QoS 1) and its bytes from `maxInFlightBytes` (QoS 0 and 1).
   */
  onPublish(packet: InboundPublish, safe: () => void): void;
}

export interface MqttConnection {
  readonly connected: boolean;
  /** QoS 1 frames read off this connection and not yet acknowledged. */
  readonly unacked: number;
  readonly clientId: string;
  /**
   * Publishes at QoS 1 and resolves on the broker's PUBACK. `userProperties` go out on MQTT 5 only
   * (W3C trace context to the device); MQTT 3.1.1 has none.
   */
  publish(topic: string, payload: Buffer, userProperties?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/**
 * One MQTT 5 (or 3.1.1) client connection of our own on mqtt-packet, so that we own the
 * acknowledgement order: mqtt.js hands over one QoS 1 message at a time while a PUBACK is pending,
 * which caps a safe bridge at ~800 msg/s (docs/findings.md). Persistent session (Clean Start 0 + Session
 * Expiry; Clean Session 0 in 3.1.1), keepalive, reconnection with backoff.
 */
export function openMqttConnection(options: MqttConnectionOptions): MqttConnection {
  const { log } = options;
  const protocolVersion = options.protocolVersion ?? 5;
  // MQTT 5 brokers honour our Receive Maximum; a 3.1.1 broker sends all it has, so we stop reading instead.
  const readAheadLimit = protocolVersion === 4 ? options.receiveMaximum : Number.POSITIVE_INFINITY;
  const target = new URL(options.url);
  const pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  const sendWaiters: Array<() => void> = [];
  let socket: net.Socket | null = null;
  let connected = false;
  let closing = false;
  let attempt = 0;
  let nextPacketId = 1;
  let serverReceiveMaximum = 65535;
  let outbox: Buffer[] = [];
  let pingTimer: Timer | undefined;
  let awaitingPong = false;
  let reconnectTimer: Timer | undefined;
  let readingPaused = false;

  // Every PUBACK a confirm released, in one buffer: the hot path's only write to the broker.
  const acks = createAckOrder((ids) => writeBytes(encodePubacks(ids)), resumeIfRoom);

  const roomToRead = () => acks.pending < readAheadLimit && acks.unsafeBytes < options.maxInFlightBytes;

  function resumeIfRoom(): void {
    if (!readingPaused || !roomToRead()) return;
    readingPaused = false;
    socket?.resume();
  }

  function write(packet: Packet): void {
    writeBytes(mqttPacket.generate(packet, { protocolVersion }));
  }

  /** Writes are gathered per event-loop turn into one socket write (docs/findings.md: batch per turn). */
  function writeBytes(bytes: Buffer): void {
    if (!socket) return;
    outbox.push(bytes);
    if (outbox.length === 1) queueMicrotask(flushOutbox);
  }

  function flushOutbox(): void {
    const chunks = outbox;
    outbox = [];
    if (socket && chunks.length > 0) socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  function connect(): void {
    const port = Number(target.port || (target.protocol === "mqtts:" ? 8883 : 1883));
    const host = target.hostname;
    const sock = target.protocol === "mqtts:" ? tls.connect({ host, port, servername: host, ...tlsFiles(options) }) : net.connect({ host, port });
    socket = sock;
    sock.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on("packet", (packet: Packet) => onPacket(packet));
    parser.on("error", (err: Error) => dropConnection(`bad packet from broker: ${err.message}`));
    // PUBLISH, the hot path, is decoded here without copying the payload; the rare others go to mqtt-packet.
    const framer = createFramer((packet: FramedPacket) => {
      if (packet.type !== PUBLISH) return void parser.parse(packet.bytes);
      const publish = decodePublish(packet, protocolVersion);
      const bytes = packet.bytes.byteLength;
      options.onPublish(publish, publish.qos === 1 ? acks.receive(publish.messageId!, bytes) : acks.hold(bytes));
      if (!readingPaused && !roomToRead()) {
        readingPaused = true;
        sock.pause();
      }
    });
    sock.on(target.protocol === "mqtts:" ? "secureConnect" : "connect", () => {
      write({
        cmd: "connect",
        protocolVersion,
        clientId: options.clientId,
        clean: false,
        keepalive: options.keepaliveSec,
        username: options.username,
        password: options.password === undefined ? undefined : Buffer.from(options.password),
        properties: protocolVersion === 5 ? { sessionExpiryInterval: options.sessionExpirySec, receiveMaximum: options.receiveMaximum } : undefined,
      });
    });
    sock.on("data", (chunk: Buffer) => {
      try {
        framer.push(chunk);
      } catch (err) {
        dropConnection(`bad packet from broker: ${(err as Error).message}`);
      }
    });
    sock.on("error", (err) => log.warn("MQTT socket error", { clientId: options.clientId, err }));
    sock.on("close", () => onClosed(sock));
  }

  function onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case "puback": {
        const waiter = pending.get(packet.messageId!);
        if (!waiter) return;
        pending.delete(packet.messageId!);
        sendWaiters.shift()?.();
        const code = packet.reasonCode ?? 0;
        // 0x10 "no matching subscribers" still means the broker took the message [MQTT-3.4.2.1].
        if (code < 0x80) waiter.resolve();
        else waiter.reject(new UnavailableError(`broker refused the publish (reason ${code})`));
        return;
      }
      case "connack":
        onConnack(packet.reasonCode ?? packet.returnCode ?? 0, packet.properties?.receiveMaximum);
        return;
      case "suback": {
        const refused = (packet.granted as number[]).map((code, i) => [options.subscriptions[i], code] as const).filter(([, c]) => c >= 0x80);
        if (refused.length > 0) log.error("broker refused subscriptions", { refused: refused.map(([f, c]) => `${f} (${c})`).join(", ") });
        else log.info("subscribed", { clientId: options.clientId, filters: options.subscriptions.length });
        return;
      }
      case "pingresp":
        awaitingPong = false;
        return;
      case "disconnect":
        dropConnection(`broker disconnected us (reason ${packet.reasonCode ?? 0})`);
        return;
      default:
        return;
    }
  }

  function onConnack(code: number, receiveMaximum: number | undefined): void {
    if (code !== 0) {
      log.error("broker refused the connection", { clientId: options.clientId, reasonCode: code });
      dropConnection(`CONNACK reason ${code}`);
      return;
    }
    connected = true;
    attempt = 0;
    // A 3.1.1 broker states no limit; keep to our own rather than flood it.
    serverReceiveMaximum = receiveMaximum ?? (protocolVersion === 4 ? options.receiveMaximum : 65535);
    log.info("connected to MQTT broker", { clientId: options.clientId, url: `${target.protocol}//${target.host}`, protocolVersion });
    if (options.subscriptions.length > 0) {
      write({
        cmd: "subscribe",
        messageId: allocatePacketId(),
        subscriptions: options.subscriptions.map((topic) => ({ topic, qos: 1 as const })),
      });
    }
    if (options.keepaliveSec > 0) {
      pingTimer = setInterval(() => {
        if (awaitingPong) return dropConnection("no PINGRESP within the keepalive interval");
        awaitingPong = true;
        write({ cmd: "pingreq" });
      }, options.keepaliveSec * 1000);
    }
    for (const wake of sendWaiters.splice(0, serverReceiveMaximum)) wake();
  }

  function dropConnection(reason: string): void {
    log.warn("dropping MQTT connection", { clientId: options.clientId, reason });
    socket?.destroy();
  }

  function onClosed(sock: net.Socket): void {
    if (socket !== sock) return;
    socket = null;
    connected = false;
    outbox = [];
    awaitingPong = false;
    readingPaused = false;
    clearInterval(pingTimer);
    acks.reset();
    for (const waiter of pending.values()) waiter.reject(new UnavailableError("MQTT connection lost before PUBACK"));
    pending.clear();
    if (closing) return;
    attempt++;
    const delay = backoffDelay(attempt, options.reconnectInitialMs, options.reconnectMaxMs);
    log.warn("MQTT connection closed; reconnecting", { clientId: options.clientId, attempt, delayMs: delay });
    reconnectTimer = setTimeout(connect, delay);
  }

  function allocatePacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = nextPacketId;
      nextPacketId = nextPacketId === 65535 ? 1 : nextPacketId + 1;
      if (!pending.has(id)) return id;
    }
    throw new UnavailableError("no free MQTT packet id");
  }

  connect();

  return {
    get connected() {
      return connected;
    },
    get unacked() {
      return acks.pending;
    },
    clientId: options.clientId,

    async publish(topic, payload, userProperties) {
      if (!connected) throw new UnavailableError("MQTT broker not connected");
      // Honour the broker's Receive Maximum [MQTT-3.3.4-7]: wait for a PUBACK before exceeding it.
      while (pending.size >= serverReceiveMaximum) await new Promise<void>((r) => sendWaiters.push(r));
      if (!connected) throw new UnavailableError("MQTT broker not connected");
      const messageId = allocatePacketId();
      return new Promise<void>((resolve, reject) => {
        pending.set(messageId, { resolve, reject });
        const properties = userProperties && protocolVersion === 5 ? { properties: { userProperties } } : {};
        write({ cmd: "publish", topic, payload, qos: 1, retain: false, dup: false, messageId, ...properties });
      });
    },

    async close() {
      closing = true;
      clearTimeout(reconnectTimer);
      const sock = socket;
      if (!sock) return;
      if (connected) {
        write({ cmd: "disconnect", reasonCode: 0 });
        flushOutbox();
      }
      await new Promise<void>((resolve) => {
        sock.once("close", () => resolve());
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      });
    },
  };
}

/** Read at every (re)connect, so a renewed certificate is picked up without a restart. */
function tlsFiles(options: Pick<MqttConnectionOptions, "caFile" | "certFile" | "keyFile">): tls.ConnectionOptions {
  const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  return { ca: read(options.caFile), cert: read(options.certFile), key: read(options.keyFile) };
}
