import { pace } from "../load/pace";
import { saturate, type SaturationResult } from "../load/saturate";
import type { Profile, ScenarioResult } from "../results";
import { openGatewayRelay } from "./gateway-relay";
import { openRawRabbitmq } from "./raw-rabbitmq";
import type { OpenRelay } from "./relay";
import { openSafeBridge } from "./safe-bridge";

/** The two references of the budgets (docs/performance.md) and our gateway, measured side by side. */
export const RELAYS: ReadonlyArray<{ id: string; open(): Promise<OpenRelay> }> = [
  { id: "rawRabbitmq", open: openRawRabbitmq },
  { id: "safeBridge", open: openSafeBridge },
  { id: "gatewayRelay", open: openGatewayRelay },
];

/**
 * Opens every chosen relay first, then saturates them in turns, `profile.rounds` times, and keeps
 * each one's median round: whatever else loads the machine meanwhile weighs on all of them alike,
 * so their ratios hold (docs/findings.md: runs of 10 s, the median). Then reads
 * each one's latency at its paced rate.
 */
export async function runRelays(profile: Profile, only: (id: string) => boolean, failed: (id: string, err: unknown) => void): Promise<ScenarioResult[]> {
  const open: OpenRelay[] = [];
  try {
    for (const relay of RELAYS.filter((r) => only(r.id))) {
      try {
        open.push(await relay.open());
      } catch (err) {
        failed(relay.id, err);
      }
    }
    const { warmupSeconds, seconds, window } = profile;
    const rounds = new Map<OpenRelay, SaturationResult[]>(open.map((r) => [r, []]));
    for (let round = 0; round < profile.rounds; round++) {
      for (const relay of open) rounds.get(relay)!.push(await saturate(relay.path, { window, warmupSeconds, seconds, processes: relay.processes }));
    }
    const results: ScenarioResult[] = [];
    for (const relay of open) {
      const paced = await pace(relay.path, { rate: relay.pacedRate, warmupSeconds, seconds, processes: relay.processes });
      const all = rounds.get(relay)!;
      const median = [...all].sort((a, b) => a.throughput - b.throughput)[Math.floor(all.length / 2)]!;
      const saturation = { ...median, rounds: all.map((r) => r.throughput) };
      results.push({ id: relay.id, title: relay.title, phases: { saturation, paced } });
    }
    return results;
  } finally {
    for (const relay of open) await relay.close();
  }
}
