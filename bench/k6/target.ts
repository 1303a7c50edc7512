import type { MessageEvent } from "k6/websockets";

/**
 * Where the platform under test is and how to reach it, from k6's environment:
 *   k6 run -e API_URL=http://host:8080 -e WS_URL=ws://host:8081/ws -e TOKEN=<JWT> -e PREFIX=k6-generic- <script>.ts
 * The devices are `bun run simulate`'s generic ones (see docs/performance.md), named
 * `<--prefix>generic-<n>`: PREFIX is `<--prefix>generic-` and DEVICES its `--generic`.
 */
export const API_URL = __ENV.API_URL ?? "http://127.0.0.1:8080";
export const WS_URL = __ENV.WS_URL ?? "ws://127.0.0.1:8081/ws";
export const TOKEN = __ENV.TOKEN ?? "";
export const PREFIX = __ENV.PREFIX ?? "k6-generic-";
export const DEVICES = Number(__ENV.DEVICES ?? "10");

export const deviceIds = (): string[] => Array.from({ length: DEVICES }, (_, i) => `${PREFIX}${i}`);
export const authHeaders = { authorization: `Bearer ${TOKEN}` };
export const wsUrl = () => `${WS_URL}?token=${encodeURIComponent(TOKEN)}`;

/** A message iot-ws pushes (docs/interfaces.md: WebSocket), or null for its other frames. */
export interface Pushed {
  ts: number;
  deviceId: string;
  kind: string;
  data: { commandId?: string; status?: string };
}

export function pushedMessage(event?: MessageEvent): Pushed | null {
  if (!event) return null;
  const frame = JSON.parse(String(event.data)) as { type: string; message?: Pushed };
  return frame.type === "message" && frame.message ? frame.message : null;
}
