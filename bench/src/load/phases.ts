import type { PhaseResult, Profile } from "../results";
import type { WatchedProcess } from "../stats/process-usage";
import { pace } from "./pace";
import type { Path } from "./path";
import { saturate } from "./saturate";

/** The two phases of a message path: its highest sustained rate, then its latency at `rate` msg/s. */
export async function saturateThenPace(path: Path, processes: readonly WatchedProcess[], profile: Profile, rate: number): Promise<Record<string, PhaseResult>> {
  const { warmupSeconds, seconds } = profile;
  const saturation = await saturate(path, { window: profile.window, warmupSeconds, seconds, processes });
  const paced = await pace(path, { rate, warmupSeconds, seconds, processes });
  return { saturation, paced };
}
