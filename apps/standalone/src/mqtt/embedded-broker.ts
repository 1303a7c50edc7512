import type { EventEmitter } from "node:events";
import net from "node:net";
import { Aedes, type AedesOptions } from "aedes";
import type { Logger } from "@umos/core";
import { limitPacketSize, type PacketLimits } from "./packet-limit";
import { SqlitePersistence } from "./sqlite-persistence";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** SQLite file of the broker's sessions, queued messages, retained messages and wills. */
  persistencePath: string;
  auth: Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeSubscribe">;
  /** How long a new connection may take to send its CONNECT before it is closed. */
  loginTimeoutMs: number;
  packetLimits: PacketLimits;
  log: Logger;
}

export interface EmbeddedBroker {
  readonly port: number;
  /** Closes the live session of this client id, if one is connected (a rotated password, a removed device). */
  disconnect(clientId: string): void;
  close(): Promise<void>;
}

/**
 * aedes, the MQTT broker in JavaScript, on a TCP port: MQTT 3.1.1 only (an MQTT 5 CONNECT is
 * refused) and no `$share` subscriptions (granted, but they deliver nothing: docs/findings.md), which is
 * why the standalone gateway connects with protocolVersion 4 and plain filters.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { log } = options;
  const persistence = new SqlitePersistence(options.persistencePath);
  const { authorizePublish } = options.auth;
  const broker = await Aedes.createBroker({
    persistence,
    // aedes publishes the wills of a broker that stopped beating at every fourth beat: the wills of
    // devices connected when the process died go out within 20 s of the next start (default: 4 min).
    heartbeatInterval: 5000,
    // A connection that has not logged in by then is closed, instead of holding a socket for aedes' 30 s.
    connectTimeout: options.loginTimeoutMs,
    ...options.auth,
    // Runs before aedes sends the PUBACK: an allowed message is on disk before its publisher hears "got it".
    authorizePublish(client, packet, done) {
      const accept = (err?: Error | null) => {
        if (err || !client) return done(err);
        try {
          persistence.writeAhead(packet);
        } catch (failed) {
          // Not on disk, so not acknowledged: aedes closes the connection and the device sends it again.
          log.error("MQTT broker could not store an incoming message", { clientId: client.id, err: failed });
          return done(failed as Error);
        }
        done(null);
      };
      if (authorizePublish) authorizePublish(client, packet, accept);
      else accept(null);
    },
  });
  broker.on("clientError", (client, err) => log.debug("MQTT client error", { clientId: client.id, err: err.message }));
  // aedes emits these for failures of its own (persistence); unheard, an EventEmitter error would end the process.
  (broker as unknown as EventEmitter).on("error", (err: Error) => log.error("MQTT broker error", { err }));
  const server = net.createServer((socket) => limitPacketSize(broker.handle(socket), options.packetLimits));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await persistence.destroy();
    throw err;
  }
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    disconnect(clientId) {
      // aedes keeps its connected clients by id; its types leave the map out.
      const client = (broker as unknown as { clients: Record<string, { close(): void } | undefined> }).clients[clientId];
      if (!client) return;
      log.info("MQTT session closed: its device's credentials changed", { clientId });
      client.close();
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
      await persistence.destroy();
    },
  };
}
