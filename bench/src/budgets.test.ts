import { describe, expect, test } from "bun:test";
import { judge, loadBudgets, METRICS } from "./budgets";
import type { BenchRun, PhaseResult } from "./results";

const phase = (p: Partial<PhaseResult>): PhaseResult => ({ messages: 1000, usage: {}, ...p });
const latency = (p99: number) => ({ count: 1000, p50: 1, p95: p99, p99, max: p99 });

function run(scenarios: Record<string, Record<string, PhaseResult>>): BenchRun {
  return { mode: "full", startedAt: "", machine: {}, scenarios: Object.entries(scenarios).map(([id, phases]) => ({ id, title: id, phases })) };
}

describe("budgets", () => {
  test("throughput is judged as a ratio to the references of the same run", () => {
    const measured = run({
      rawRabbitmq: { saturation: phase({ throughput: 10_000 }), paced: phase({ latency: latency(8) }) },
      safeBridge: { saturation: phase({ throughput: 800 }) },
      gatewayRelay: {
        saturation: phase({ throughput: 7_000, usage: { gateway: { cpuSeconds: 0.7, cpuSecondsPer1000: 0.018 } } }),
        paced: phase({ latency: latency(20) }),
      },
    });
    const verdicts = judge(measured, [
      { metric: "relayVsRabbitmq", min: 0.75 },
      { metric: "relayVsSafeBridge", min: 8 },
      { metric: "gatewayCpuMicrosPerMessage", max: 20 },
      { metric: "gatewayAddedP99Ms", max: 10 },
    ]);
    expect(verdicts.map((v) => [v.metric, v.value, v.status])).toEqual([
      ["relayVsRabbitmq", 0.7, "FAIL"],
      ["relayVsSafeBridge", 8.75, "pass"],
      ["gatewayCpuMicrosPerMessage", 18, "pass"],
      ["gatewayAddedP99Ms", 12, "FAIL"],
    ]);
  });

  test("a budget whose scenario did not run is 'not measured', never a pass", () => {
    const [verdict] = judge(run({}), [{ metric: "commandP99Ms", max: 25 }]);
    expect(verdict!.status).toBe("not measured");
  });

  test("the fan-out budget speaks of 10,000 clients: a run with fewer is not judged by it", () => {
    const fanout = (clients: number) => run({ wsFanout: { "last client": phase({ latency: latency(50), counts: { clients } }) } });
    expect(judge(fanout(1000), [{ metric: "wsFanoutP99Ms", max: 100 }])[0]!.status).toBe("not measured");
    expect(judge(fanout(10_000), [{ metric: "wsFanoutP99Ms", max: 100 }])[0]!.status).toBe("pass");
  });

  test("the fan-out is also judged against the bare server's floor of the same run", () => {
    const lastClient = (p99: number) => ({ "last client": phase({ latency: latency(p99), counts: { clients: 10_000 } }) });
    const [verdict] = judge(run({ wsFanoutBare: lastClient(120), wsFanout: lastClient(150) }), [{ metric: "wsFanoutVsBareServer", max: 1.2 }]);
    expect([verdict!.value, verdict!.status]).toEqual([1.25, "FAIL"]);
  });

  test("budgets.json names only known metrics, each with a limit", async () => {
    for (const budget of await loadBudgets()) {
      expect(METRICS[budget.metric]).toBeDefined();
      expect(budget.min ?? budget.max).toBeNumber();
    }
  });
});
