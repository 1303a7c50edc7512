import type { Metrics } from "@umos/observability";
import type { createFanout } from "./fanout";

/** iot-ws's own figures, read from the fan-out at scrape time: who is connected, what was pushed, who was dropped. */
export function wsMetrics(metrics: Metrics, fanout: ReturnType<typeof createFanout>, devicesSeen: () => number): void {
  metrics.countDevicesSeen(devicesSeen);
  metrics.gaugeOf("iot_ws_connections", "WebSocket clients connected", () => fanout.clients.size);
  metrics.counterOf("iot_ws_messages_sent_total", "Messages pushed to WebSocket clients (one per recipient)", () => fanout.messagesSent);
  metrics.counterOf("iot_ws_clients_dropped_total", "Clients disconnected for reading too slowly (close code 1008)", () => fanout.slowConsumersDropped);
}
