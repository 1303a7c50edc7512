import { WS_CLOSE } from "@umos/contracts/ws-close";
import type { Envelope } from "./api";

export type LiveState = "connecting" | "live" | "closed";

export interface Filter {
  devices?: string[];
  kinds?: string[];
}

/**
 * The WebSocket API (docs/interfaces.md: WebSocket) with the subscriptions the console needs, sent again after a
 * reconnect, which backs off up to 10 s. A close with 4001 (token expired) does not retry: the
 * console asks for a new token instead.
 */
export function connectLive(url: string, token: string, on: { message(m: Envelope): void; state(s: LiveState): void; tokenExpired(): void }) {
  const filters = new Map<string, Filter>();
  let socket: WebSocket | undefined;
  let delay = 500;
  let stopped = false;

  // Unsubscribing a device also drops a filter that named no devices (iot-ws subscriptions.ts), so a
  // change clears everything and subscribes the current filters again.
  const resubscribe = () => {
    if (socket?.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "unsubscribe" }));
    for (const filter of filters.values()) socket.send(JSON.stringify({ type: "subscribe", ...filter }));
  };
  const open = () => {
    on.state("connecting");
    socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      delay = 500;
      on.state("live");
      resubscribe();
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(String(event.data)) as { type: string; message?: Envelope };
      if (frame.type === "message" && frame.message) on.message(frame.message);
    };
    socket.onclose = (event) => {
      on.state("closed");
      if (stopped) return;
      if (event.code === WS_CLOSE.tokenExpired) return on.tokenExpired();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();

  return {
    /** Sets a named filter, replacing one of the same name. */
    subscribe(name: string, filter: Filter) {
      filters.set(name, filter);
      resubscribe();
    },
    unsubscribe(name: string) {
      if (filters.delete(name)) resubscribe();
    },
    close() {
      stopped = true;
      socket?.close();
    },
  };
}
