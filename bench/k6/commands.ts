/**
 * Command REST -> device -> acked, at 200 commands/s: each VU watches its own simulated device's
 * command.status events and POSTs calls to it; the latency is from the POST to the `acked` event.
 * Budget (bench/budgets.json commandP99Ms): p99 <= 25 ms at 200 commands/s.
 */
import http from "k6/http";
import { Counter, Trend } from "k6/metrics";
import type { Options } from "k6/options";
import { setInterval, setTimeout, clearInterval } from "k6/timers";
import { WebSocket } from "k6/websockets";
import { API_URL, DEVICES, authHeaders, deviceIds, wsUrl, pushedMessage } from "./target.ts";

const RATE = 200;
const acked = new Trend("command_acked_ms", true);
const refused = new Counter("commands_refused");

export const options: Options = {
  scenarios: { commands: { executor: "per-vu-iterations", vus: DEVICES, iterations: 1, maxDuration: "90s" } },
  thresholds: { command_acked_ms: ["p(99)<=25"], commands_refused: ["count==0"] },
};

export default function (): void {
  const device = deviceIds()[(__VU - 1) % DEVICES]!;
  const sentAt = new Map<string, number>();
  const ws = new WebSocket(wsUrl());
  ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", devices: [device], kinds: ["command.status"] }));
  ws.onmessage = (event) => {
    const { commandId, status } = pushedMessage(event)?.data ?? {};
    if (status !== "acked" || !commandId) return;
    const started = sentAt.get(commandId);
    if (started !== undefined) acked.add(Date.now() - started);
    sentAt.delete(commandId);
  };
  const headers = { ...authHeaders, "content-type": "application/json" };
  const timer = setInterval(
    () => {
      const started = Date.now();
      void http.asyncRequest("POST", `${API_URL}/api/v1/devices/${device}/commands`, JSON.stringify({ service: "ping" }), { headers }).then((res) => {
        if (res.status !== 202) return void refused.add(1);
        sentAt.set((res.json() as { id: string }).id, started);
      });
    },
    (1000 * DEVICES) / RATE,
  );
  setTimeout(() => {
    clearInterval(timer);
    setTimeout(() => ws.close(), 2000);
  }, 60_000);
}
