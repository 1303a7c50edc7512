// The embedded bus against RabbitMQ through the same Bus interface, in one run (docs/standalone.md,
// Embedded bus): publish -> consume throughput with 1,000 messages in flight, and latency at 2,000 msg/s.
// Usage: bun bench/src/bus-compare.ts [--rounds 3] [--seconds 5]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectBus, type Bus } from "@umos/bus";
import { HEADERS, QUEUES } from "@umos/contracts";
import { silentLogger } from "@umos/core";
import { createVhost } from "@umos/testkit";
import { pace } from "./load/pace";
import type { Path } from "./load/path";
import { saturate } from "./load/saturate";
import { reportPayload, stampOfReport } from "./payload";
import type { WatchedProcess } from "./stats/process-usage";
import { watched } from "./stats/watched";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "5" } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

interface Target {
  name: string;
  open(): Promise<{ url: string; dispose(): Promise<void> }>;
  processes: () => WatchedProcess[];
}

const embedded = (synchronous: string): Target => ({
  name: `embedded, synchronous=${synchronous}`,
  async open() {
    const dir = await mkdtemp(join(tmpdir(), "umos-bench-bus-"));
    return { url: `embedded:${join(dir, "bus.sqlite")}?synchronous=${synchronous}`, dispose: () => rm(dir, { recursive: true, force: true }) };
  },
  processes: () => [watched.bench()],
});

const targets: Target[] = [
  { name: "RabbitMQ, classic queue", open: createVhost, processes: () => [watched.rabbitmq(), watched.bench()] },
  embedded("normal"),
  embedded("full"),
];

/** A bus as a path: the gateway's publish (message id, four headers) to the uplink queue, and a consumer that acks at once. */
async function openPath(url: string): Promise<{ path: Path; close(): Promise<void> }> {
  const options = {
    url,
    name: "bench",
    queueType: "classic" as const,
    prefetch: 256,
    reconnectInitialMs: 200,
    reconnectMaxMs: 1000,
    maxAttempts: 5,
    log: silentLogger,
  };
  const publisher: Bus = await connectBus(options);
  const consumer: Bus = await connectBus(options);
  const path: Path = {
    send(seq, stamp) {
      const headers = {
        [HEADERS.deviceId]: "bench-1",
        [HEADERS.vendor]: "generic",
        [HEADERS.mqttTopic]: "generic/bench-1/property/report",
        [HEADERS.receivedAt]: Date.now(),
      };
      publisher
        .publish("iot.generic.device.property.report", reportPayload(stamp), { messageId: `m${seq}`, contentType: "application/json", headers })
        .catch((err) => {
          console.error(`publish failed: ${String(err)}`);
        });
    },
    arrived: () => {},
  };
  const sink = await consumer.consume({ queue: QUEUES.uplink }, async (m) => path.arrived(stampOfReport(m.body)));
  return {
    path,
    async close() {
      await sink.stop();
      await publisher.close();
      await consumer.close();
    },
  };
}

const rows: string[] = [];
for (const target of targets) {
  const throughputs: number[] = [];
  const cpu: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const broker = await target.open();
    const { path, close } = await openPath(broker.url);
    try {
      const full = await saturate(path, { window: 1000, warmupSeconds: 1, seconds, processes: target.processes() });
      throughputs.push(full.throughput);
      cpu.push(Object.values(full.usage).reduce((sum, u) => sum + u.cpuSecondsPer1000, 0) * 1000);
      const paced = await pace(path, { rate: 2000, warmupSeconds: 1, seconds, processes: target.processes() });
      p50.push(paced.latency.p50);
      p99.push(paced.latency.p99);
      if (full.missing + paced.missing > 0) console.error(`${target.name}: ${full.missing + paced.missing} messages missing`);
    } finally {
      await close();
      await broker.dispose();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  rows.push(
    `| ${target.name} | ${median(throughputs).toFixed(0)} (${throughputs.map((t) => t.toFixed(0)).join(" / ")}) | ${median(cpu).toFixed(0)} | ${median(p50).toFixed(2)} | ${median(p99).toFixed(2)} |`,
  );
  console.error(rows.at(-1));
}

console.log("| bus | msg/s, 1,000 in flight, median (rounds) | CPU µs/msg, all processes | p50 ms at 2,000/s | p99 ms at 2,000/s |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
