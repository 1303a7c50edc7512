import type { BenchRun, PhaseResult } from "./results";

/** The fan-out budget speaks of 10,000 connected clients; a run with fewer is not judged by it. */
const FANOUT_CLIENTS = 10_000;

interface Metric {
  means: string;
  compute(run: BenchRun): number | undefined;
}

const phase = (run: BenchRun, scenario: string, name: string): PhaseResult | undefined => run.scenarios.find((s) => s.id === scenario)?.phases[name];

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);

/** What each budget of budgets.json measures, computed from one run. */
export const METRICS: Record<string, Metric> = {
  relayVsRabbitmq: {
    means: "gateway relay msg/s / RabbitMQ alone msg/s, same run",
    compute: (run) => ratio(phase(run, "gatewayRelay", "saturation")?.throughput, phase(run, "rawRabbitmq", "saturation")?.throughput),
  },
  relayVsSafeBridge: {
    means: "gateway relay msg/s / safe mqtt.js bridge msg/s, same run",
    compute: (run) => ratio(phase(run, "gatewayRelay", "saturation")?.throughput, phase(run, "safeBridge", "saturation")?.throughput),
  },
  gatewayCpuMicrosPerMessage: {
    means: "gateway CPU per relayed message at full load, µs",
    compute: (run) => {
      const perThousand = phase(run, "gatewayRelay", "saturation")?.usage.gateway?.cpuSecondsPer1000;
      return perThousand === undefined ? undefined : perThousand * 1000;
    },
  },
  gatewayAddedP99Ms: {
    // The relay's p99 less the broker's own p99 at the same rate: what the MQTT hop and the gateway add.
    means: "gateway relay p99 - RabbitMQ alone p99, both at 2,000 msg/s, ms",
    compute: (run) => {
      const relay = phase(run, "gatewayRelay", "paced")?.latency?.p99;
      const broker = phase(run, "rawRabbitmq", "paced")?.latency?.p99;
      return relay === undefined || broker === undefined ? undefined : relay - broker;
    },
  },
  deviceToWsP99Ms: {
    means: "device -> WebSocket client p99 at 2,000 msg/s, ms",
    compute: (run) => phase(run, "deviceToWs", "paced")?.latency?.p99,
  },
  commandP99Ms: {
    means: "command REST -> device -> acked p99 at 200 commands/s, ms",
    compute: (run) => phase(run, "commands", "paced")?.latency?.p99,
  },
  wsFanoutP99Ms: {
    means: `one message to ${FANOUT_CLIENTS.toLocaleString("en-US")} WebSocket clients, to the last client, p99 ms`,
    compute: (run) => lastClientP99(run, "wsFanout"),
  },
  wsFanoutVsBareServer: {
    // The machine's floor for the same clients, measured just before: what iot-ws adds to it.
    means: "iot-ws fan-out last-client p99 / bare Bun server.publish last-client p99, same run",
    compute: (run) => ratio(lastClientP99(run, "wsFanout"), lastClientP99(run, "wsFanoutBare")),
  },
};

function lastClientP99(run: BenchRun, scenario: string): number | undefined {
  const lastClient = phase(run, scenario, "last client");
  return (lastClient?.counts?.clients ?? 0) >= FANOUT_CLIENTS ? lastClient?.latency?.p99 : undefined;
}

export interface Budget {
  metric: string;
  min?: number;
  max?: number;
  /** Checked by bench:ci as well. */
  ci?: boolean;
}

export interface BudgetVerdict {
  metric: string;
  means: string;
  value: number | undefined;
  limit: string;
  status: "pass" | "FAIL" | "not measured";
}

export async function loadBudgets(file = new URL("../budgets.json", import.meta.url)): Promise<Budget[]> {
  const { budgets } = (await Bun.file(file).json()) as { budgets: Budget[] };
  for (const b of budgets) if (!METRICS[b.metric]) throw new Error(`budgets.json: unknown metric '${b.metric}'`);
  return budgets;
}

/** Every budget against the run; one not measured is reported as such, and counts as a breach when checked. */
export function judge(run: BenchRun, budgets: readonly Budget[]): BudgetVerdict[] {
  return budgets.map((b) => {
    const metric = METRICS[b.metric]!;
    const value = metric.compute(run);
    const limit = b.min !== undefined ? `>= ${b.min}` : `<= ${b.max}`;
    const ok = value !== undefined && (b.min === undefined || value >= b.min) && (b.max === undefined || value <= b.max);
    return { metric: b.metric, means: metric.means, value, limit, status: value === undefined ? "not measured" : ok ? "pass" : "FAIL" };
  });
}
