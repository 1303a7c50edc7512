import { createVerifier } from "@umos/auth";
import type { Bus } from "@umos/bus";
import type { WsConfig } from "@umos/config";
import { WS_CLOSE } from "@umos/contracts";
import { recentlySeen } from "@umos/observability";
import { serviceApp, type App, type AppDeps } from "@umos/runtime";
import { createFanout } from "./fanout";
import { wsMetrics } from "./ws-metrics";
import { serveWebSockets } from "./ws-server";

/** iot-ws: live push of validated messages to dashboards and apps over Bun's native WebSocket server. */
export function createApp(config: WsConfig, { log, obs, clock, bus }: AppDeps & { bus: Bus }): App {
  return serviceApp(log, config.ws.port, async (resources) => {
    const devices = recentlySeen(config.presence.silenceMs, clock);
    const fanout = createFanout(config.ws.maxBufferedBytes, log, devices.seen);
    const { metrics } = obs;
    wsMetrics(metrics, fanout, devices.count);
    // Live push needs no disk: this replica's own exclusive, non-durable queue.
    resources.use(await bus.consume({ queue: { wsInstance: config.instance } }, fanout.deliver), (c) => c.stop(), "the consumer of its queue");
    const verify = config.auth.enabled ? createVerifier(config.auth, clock) : null;
    const server = resources.use(
      serveWebSockets({ config: config.ws, allowedHosts: config.allowedHosts, fanout, probes: [bus.probe], verify, metrics, clock }),
      (s) => {
        for (const client of fanout.clients) client.close(WS_CLOSE.shuttingDown, "server shutting down");
        return s.stop(true);
      },
      "the WebSocket server",
    );
    log.info("iot-ws ready", { port: server.port });
    return server.port!;
  });
}
