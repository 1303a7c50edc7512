/**
 * REST reads, as bench/src/scenarios/rest-reads.ts: a device, the device list, a device's message
 * log, at a constant request rate. The issue sets no latency budget for reads: the thresholds hold
 * errors at zero and record the latencies for comparison with `bun run bench`.
 */
import { check } from "k6";
import http from "k6/http";
import type { Options } from "k6/options";
import { API_URL, authHeaders, deviceIds } from "./target.ts";

export const options: Options = {
  scenarios: {
    reads: { executor: "constant-arrival-rate", rate: 1000, timeUnit: "1s", duration: "60s", preAllocatedVUs: 32, maxVUs: 128 },
  },
  thresholds: {
    http_req_failed: ["rate==0"],
    "http_req_duration{endpoint:device}": ["p(99)>=0"],
    "http_req_duration{endpoint:list}": ["p(99)>=0"],
    "http_req_duration{endpoint:messages}": ["p(99)>=0"],
  },
};

export default function (): void {
  const ids = deviceIds();
  const id = ids[Math.floor(Math.random() * ids.length)]!;
  const params = (endpoint: string) => ({ headers: authHeaders, tags: { endpoint } });
  const responses = [
    http.get(`${API_URL}/api/v1/devices/${id}`, params("device")),
    http.get(`${API_URL}/api/v1/devices?limit=50`, params("list")),
    http.get(`${API_URL}/api/v1/devices/${id}/messages?limit=50`, params("messages")),
  ];
  for (const res of responses) check(res, { "status 200": (r) => r.status === 200 });
}
