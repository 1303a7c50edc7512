/**
 * The security suite's bookkeeping: every case of a family is tried, compared with what the rule
 * demands, and counted. A family prints one line; its test then fails listing every unexpected
 * answer, so one run shows all the holes, not just the first.
 */
export interface Tally {
  /**
   * Records one case. `ok`: the answer is the one the rule demands. `refusal`: that answer is a
   * refusal (401, 403, 400, a closed connection, a dead letter), counted as "refused as expected".
   */
  check(name: string, ok: boolean, options?: { refusal?: boolean; detail?: string }): void;
  /** Prints `security | <family> | cases N | refused as expected M | unexpected K`; returns the unexpected cases. */
  report(): string[];
}

export function tally(family: string): Tally {
  let cases = 0;
  let refusals = 0;
  const unexpected: string[] = [];
  return {
    check(name, ok, options = {}) {
      cases++;
      if (ok && options.refusal) refusals++;
      if (!ok) unexpected.push(options.detail ? `${name}: ${options.detail}` : name);
    },
    report() {
      console.log(`security | ${family} | cases ${cases} | refused as expected ${refusals} | unexpected ${unexpected.length}`);
      for (const line of unexpected.slice(0, 50)) console.log(`  unexpected: ${line}`);
      return unexpected;
    },
  };
}
