import type { UmosConfig } from "@umos/config";
import { healthResponse, type Probe } from "@umos/runtime";
import type { createFanout, Client } from "./fanout";
import { errorFrame, parseClientMessage } from "./protocol";
import { Subscriptions } from "./subscriptions";

/** Bun's native WebSocket server on `/ws` (DESIGN §10 protocol), with /health and /ready beside it. */
export function serveWebSockets(options: UmosConfig["ws"], fanout: ReturnType<typeof createFanout>, probes: Probe[]) {
  return Bun.serve<Client>({
    hostname: options.host,
    port: options.port,
    async fetch(request, server) {
      const { pathname } = new URL(request.url);
      if (pathname === "/ws") {
        // The seam methods are bound to the socket in open(), once it exists.
        const data: Client = { subscriptions: new Subscriptions(), send: () => 0, close: () => {}, bufferedAmount: () => 0 };
        return server.upgrade(request, { data }) ? undefined : new Response("expected a WebSocket upgrade", { status: 426 });
      }
      return (await healthResponse(request, probes)) ?? new Response("not found", { status: 404 });
    },
    websocket: {
      maxPayloadLength: options.maxMessageBytes,
      // We close slow clients ourselves, with a reason; Bun's own limit stays above ours.
      backpressureLimit: options.maxBufferedBytes * 2,
      open(ws) {
        ws.data.send = (frame) => ws.send(frame);
        ws.data.close = (code, reason) => ws.close(code, reason);
        ws.data.bufferedAmount = () => ws.getBufferedAmount();
        fanout.clients.add(ws.data);
      },
      message(ws, raw) {
        const parsed = parseClientMessage(raw);
        if (!parsed.ok) return void ws.send(errorFrame(parsed.code, parsed.message));
        const { type, ...lists } = parsed.message;
        if (type === "unsubscribe") {
          ws.data.subscriptions.remove(lists);
          return void ws.send(JSON.stringify({ type: "unsubscribed", ...lists }));
        }
        if (!ws.data.subscriptions.add(lists)) return void ws.send(errorFrame("too_many_subscriptions", "at most 100 subscriptions per connection"));
        ws.send(JSON.stringify({ type: "subscribed", ...lists }));
      },
      close(ws) {
        fanout.clients.delete(ws.data);
      },
    },
  });
}
