import type { Profile, ScenarioResult } from "./results";
import { commands } from "./scenarios/commands";
import { deviceToLog } from "./scenarios/device-to-log";
import { deviceToWs } from "./scenarios/device-to-ws";
import { fleet } from "./scenarios/fleet";
import { jobs } from "./scenarios/jobs";
import { runOnPlatform, type PlatformScenario } from "./scenarios/platform";
import { RELAYS, runRelays } from "./scenarios/relays";
import { restReads } from "./scenarios/rest-reads";
import { rules } from "./scenarios/rules";
import { wsFanout, wsFanoutBare } from "./scenarios/ws-fanout";

/** A step of the suite: one scenario, or several sharing one started platform. */
export interface SuiteStep {
  ids: readonly string[];
  /** bench:ci runs these: the references and the gateway relay, whose ratios it checks. */
  ci: boolean;
  /** Scenarios that fail are reported through `failed`; the rest of the step still runs. */
  run(profile: Profile, only: (id: string) => boolean, failed: (id: string, err: unknown) => void): Promise<ScenarioResult[]>;
}

/**
 * The fan-outs last: their 10,000 connections are the heaviest thing the platform carries here. The
 * bare server's goes just before iot-ws's, so both meet the machine in the same state. Jobs go before
 * the fleet's 110,000 devices, so they meet the database the other scenarios meet.
 */
const ON_PLATFORM: readonly PlatformScenario[] = [deviceToWs, deviceToLog, commands, restReads, rules, jobs, fleet, wsFanoutBare, wsFanout];

/** The references and our relay side by side, then the whole platform. */
export const SUITE: readonly SuiteStep[] = [
  { ids: RELAYS.map((r) => r.id), ci: true, run: runRelays },
  {
    ids: ON_PLATFORM.map((s) => s.id),
    ci: false,
    run: (profile, only, failed) =>
      runOnPlatform(
        ON_PLATFORM.filter((s) => only(s.id)),
        profile,
        failed,
      ),
  },
];
