import { connectBus, type Bus, type Consumer } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { healthResponse, type Logger, type Service } from "@umos/runtime";
import { createFanout, type Client } from "./fanout";
import { errorFrame, parseClientMessage } from "./protocol";
import { Subscriptions } from "./subscriptions";

export interface WsDeps {
  log: Logger;
}

export interface WsApp extends Service {
  readonly port: number;
}

/** iot-ws: live push of validated messages to dashboards and apps over Bun's native WebSocket server. */
export function createApp(config: UmosConfig, deps: WsDeps): WsApp {
  const { log } = deps;
  const fanout = createFanout(config.ws.maxBufferedBytes, log);
  let bus: Bus | undefined;
  let consumer: Consumer | undefined;
  let server: ReturnType<typeof Bun.serve<Client>> | undefined;

  return {
    get port() {
      return server?.port ?? config.ws.port;
    },

    async start() {
      bus = await connectBus({ ...config.rabbitmq, name: `iot-ws@${config.instance}`, log: log.child("bus") });
      // Live push needs no disk: transient consumption of this replica's own exclusive queue.
      consumer = await bus.consume({ queue: { wsInstance: config.instance } }, fanout.deliver);
      const probes = [bus.probe];
      server = Bun.serve<Client>({
        hostname: config.ws.host,
        port: config.ws.port,
        async fetch(request, srv) {
          const { pathname } = new URL(request.url);
          if (pathname === "/ws") {
            const subscriptions = new Subscriptions();
            const upgraded = srv.upgrade(request, {
              data: { subscriptions, send: () => 0, close: () => {}, bufferedAmount: () => 0 },
            });
            return upgraded ? undefined : new Response("expected a WebSocket upgrade", { status: 426 });
          }
          return (await healthResponse(request, probes)) ?? new Response("not found", { status: 404 });
        },
        websocket: {
          maxPayloadLength: config.ws.maxMessageBytes,
          // We close slow clients ourselves, with a reason; Bun's own limit stays above ours.
          backpressureLimit: config.ws.maxBufferedBytes * 2,
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
      log.info("iot-ws ready", { port: server.port });
    },

    async stop() {
      await consumer?.stop();
      for (const client of fanout.clients) client.close(1001, "server shutting down");
      server?.stop(true);
      await bus?.close();
    },
  };
}
