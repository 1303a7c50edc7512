/**
 * `bun run bench` (all scenarios, figures printed and saved), `bun run bench:check` (the same, exits
 * 1 on a budget breach) and `bun run bench:ci` (the short run: references and gateway relay, exits 1
 * on a breach of the budgets marked ci). `--only a,b` runs the named scenarios; `--out` names the
 * results file (default bench/results/latest.json).
 */
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { judge, loadBudgets } from "./budgets";
import { stopChildren } from "./children";
import { describeMachine } from "./machine";
import { formatRun } from "./report";
import { PROFILES, type BenchRun } from "./results";
import { SUITE } from "./suite";

const { values } = parseArgs({
  options: {
    ci: { type: "boolean", default: false },
    check: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string", default: resolve(import.meta.dir, "../results/latest.json") },
  },
});

// The services, brokers and bridges a scenario starts are child processes; should the bench die
// half way (Ctrl-C, a crash), they go with it instead of loading the machine for the next run.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stopChildren(`on ${signal}`));
process.on("uncaughtException", (err) => stopChildren(`after ${err.stack ?? err.message}`));

const profile = PROFILES[values.ci ? "ci" : "full"];
const wanted = values.only ? new Set(values.only.split(",")) : null;
const only = (id: string) => wanted === null || wanted.has(id);

const run: BenchRun = { mode: profile.mode, startedAt: new Date().toISOString(), machine: await describeMachine(), scenarios: [] };
const failures: string[] = [];
const failed = (id: string, err: unknown) => failures.push(`${id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
for (const step of SUITE) {
  if ((values.ci && !step.ci) || !step.ids.some(only)) continue;
  console.error(`bench: ${step.ids.filter(only).join(", ")} ...`);
  try {
    run.scenarios.push(...(await step.run(profile, only, failed)));
  } catch (err) {
    failed(step.ids.join(", "), err);
  }
}

await mkdir(dirname(values.out), { recursive: true });
await Bun.write(values.out, JSON.stringify(run, null, 2));
const budgets = (await loadBudgets()).filter((b) => !values.ci || b.ci);
const verdicts = judge(run, budgets);
console.log(formatRun(run, verdicts));
console.log(`\nresults: ${values.out}`);

for (const failure of failures) console.error(`bench: scenario failed: ${failure}`);
const breached = verdicts.filter((v) => v.status !== "pass");
if (failures.length > 0) process.exit(2);
if ((values.check || values.ci) && breached.length > 0) {
  console.error(`bench: ${breached.length} budget(s) not met: ${breached.map((v) => v.metric).join(", ")}`);
  process.exit(1);
}
