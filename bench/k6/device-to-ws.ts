/**
 * Device -> WebSocket client at the simulator's rate (run it with `--rate 2000`): one application
 * subscribed to every simulated device. Budget (bench/budgets.json deviceToWsP99Ms): p99 <= 15 ms at
 * 2,000 msg/s. Latency is the push time less the report's `ts` (the simulator's wall clock, in ms),
 * so run k6 on the simulator's machine.
 */
import { Trend } from "k6/metrics";
import type { Options } from "k6/options";
import { setTimeout } from "k6/timers";
import { WebSocket } from "k6/websockets";
import { deviceIds, wsUrl, pushedMessage } from "./target.ts";

const deviceToWs = new Trend("device_to_ws_ms", true);

export const options: Options = {
  scenarios: { watch: { executor: "per-vu-iterations", vus: 1, iterations: 1, maxDuration: "90s" } },
  thresholds: { device_to_ws_ms: ["p(99)<=15"] },
};

export default function (): void {
  const ws = new WebSocket(wsUrl());
  ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", devices: deviceIds(), kinds: ["property.report"] }));
  ws.onmessage = (event) => {
    const message = pushedMessage(event);
    if (message) deviceToWs.add(Date.now() - message.ts);
  };
  setTimeout(() => ws.close(), 60_000);
}
