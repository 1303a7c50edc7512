import type { Client } from "aedes";

export interface PacketLimits {
  /** Largest packet before the broker accepted the client's login: its CONNECT, will included. */
  beforeLogin: number;
  /** Largest packet of a logged-in client. */
  afterLogin: number;
}

/** The step of mqtt-packet 9's parser that reads a packet's declared length, and what it leaves behind. */
interface LengthStep {
  _parseLength(): boolean;
  _emitError(err: Error): void;
  packet: { length: number; cmd?: string };
}

/**
 * A size limit on every MQTT packet a client sends to the embedded broker, checked on the length its
 * fixed header declares, before the body is read. aedes 1.2 has none: its parser (mqtt-packet) buffers
 * whatever length a header announces, up to MQTT's 256 MiB, even from a client that has not logged
 * in. aedes has no option for it, so this wraps the length step of the client's own parser (the
 * versions are pinned; `packet-limit.test.ts` fails if the parser changes shape). A packet over the
 * limit is a parser error: aedes closes the connection, and nothing of the body is kept.
 */
export function limitPacketSize(client: Client, limits: PacketLimits): void {
  const parser = (client as unknown as { _parser?: LengthStep })._parser;
  if (!parser || typeof parser._parseLength !== "function") throw new Error("aedes' client parser is not the mqtt-packet parser this limit was written for");
  const state = client as unknown as { connackSent: boolean };
  const parseLength = parser._parseLength;
  parser._parseLength = function (this: LengthStep): boolean {
    if (!parseLength.call(this)) return false;
    const limit = state.connackSent ? limits.afterLogin : limits.beforeLogin;
    if (this.packet.length <= limit) return true;
    this._emitError(new Error(`${this.packet.cmd ?? "packet"} of ${this.packet.length} bytes exceeds the broker's limit of ${limit}`));
    return false;
  };
}
