/**
 * iot-ws fan-out: 10,000 WebSocket clients subscribed to one simulated device; run the simulator
 * with `--generic 1 --dji 0 --tuya 0 --rate 1`, so each report goes to every client. Budget (bench/budgets.json
 * wsFanoutP99Ms): delivered to the last client within 100 ms, p99. Latency is the push time less
 * the report's `ts` (the simulator's wall clock, in ms): run k6 on the simulator's machine.
 */
import { Trend } from "k6/metrics";
import type { Options } from "k6/options";
import { setTimeout } from "k6/timers";
import { WebSocket } from "k6/websockets";
import { PREFIX, wsUrl, pushedMessage } from "./target.ts";

const CLIENTS = Number(__ENV.CLIENTS ?? "10000");
const delivered = new Trend("ws_fanout_ms", true);

export const options: Options = {
  scenarios: { fanout: { executor: "per-vu-iterations", vus: CLIENTS, iterations: 1, maxDuration: "120s" } },
  thresholds: { ws_fanout_ms: ["p(99)<=100"] },
};

export default function (): void {
  const ws = new WebSocket(wsUrl());
  ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", devices: [`${PREFIX}0`] }));
  ws.onmessage = (event) => {
    const message = pushedMessage(event);
    if (message) delivered.add(Date.now() - message.ts);
  };
  setTimeout(() => ws.close(), 60_000);
}
