import type { Path } from "../load/path";
import type { WatchedProcess } from "../stats/process-usage";

/** A relay set up and ready to measure: references and our gateway alike. */
export interface OpenRelay {
  id: string;
  title: string;
  path: Path;
  processes: WatchedProcess[];
  /** The rate its latency is read at: 2,000 msg/s (bench/budgets.json), or less for a relay that cannot carry it. */
  pacedRate: number;
  close(): Promise<void>;
}

/** Runs cleanups in order, each whatever the others did, reporting failures without throwing. */
export async function cleanUp(cleanups: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  for (const cleanup of cleanups) await cleanup().catch((err) => console.error(`bench cleanup: ${String(err)}`));
}
