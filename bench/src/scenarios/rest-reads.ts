import { eventually } from "@umos/testkit";
import { reportPayload } from "../payload";
import type { PhaseResult } from "../results";
import { latencyRecorder } from "../stats/latency";
import { startUsage } from "../stats/process-usage";
import type { PlatformScenario } from "./platform";

const STORED = 200;
/** Requests in flight: an application's connection pool. */
const CONCURRENCY = 16;

/** The reads an application makes most; `:id` is the device the scenario stored messages for. */
const ENDPOINTS = ["/api/v1/devices/:id", "/api/v1/devices?limit=50", "/api/v1/devices/:id/messages?limit=50"];

/** REST reads as an application makes them: each endpoint in turn, CONCURRENCY requests in flight. */
export const restReads: PlatformScenario = {
  id: "restReads",
  async run({ stack, profile, processes, devices }) {
    const fleet = await devices("read-", 1);
    const device = fleet.ids[0]!;
    for (let i = 0; i < STORED; i++) fleet.report(0, reportPayload(performance.now()));
    await eventually(
      async () => (await stack.api.get(`/api/v1/devices/${device}/messages?limit=${STORED}`)).body?.items?.length === STORED,
      10_000,
      "messages stored",
    );
    await fleet.close();

    const headers = { authorization: `Bearer ${stack.token}` };
    const phases: Record<string, PhaseResult> = {};
    for (const endpoint of ENDPOINTS) {
      const url = stack.platform.apiUrl + endpoint.replace(":id", device);
      const latency = latencyRecorder();
      let measuring = false;
      let requests = 0;
      let failed = 0;
      const deadline = performance.now() + (profile.warmupSeconds + profile.seconds) * 1000;
      const worker = async () => {
        while (performance.now() < deadline) {
          const started = performance.now();
          const res = await fetch(url, { headers });
          await res.arrayBuffer();
          if (!measuring) continue;
          requests++;
          if (!res.ok) failed++;
          latency.record(performance.now() - started);
        }
      };
      const workers = Array.from({ length: CONCURRENCY }, worker);
      await Bun.sleep(profile.warmupSeconds * 1000);
      measuring = true;
      const usage = startUsage(processes());
      const from = performance.now();
      await Promise.all(workers);
      const seconds = (performance.now() - from) / 1000;
      phases[`GET ${endpoint}`] = {
        throughput: requests / seconds,
        messages: requests,
        latency: latency.summary(),
        usage: usage.stop(requests),
        missing: failed,
      };
    }
    return { id: "restReads", title: "REST reads (requests/s)", phases };
  },
};
