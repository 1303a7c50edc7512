import type { BudgetVerdict } from "./budgets";
import type { BenchRun, PhaseResult } from "./results";

/** The run as Markdown tables: what `bun run bench` prints and docs/performance.md quotes. */
export function formatRun(run: BenchRun, verdicts: readonly BudgetVerdict[]): string {
  return [machineTable(run), figuresTable(run), usageTable(run), countsTable(run), budgetTable(verdicts)].filter((t) => t !== "").join("\n\n");
}

const fixed = (n: number | undefined, digits = 1) =>
  n === undefined ? "" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const whole = (n: number | undefined) => (n === undefined ? "" : Math.round(n).toLocaleString("en-US"));
const row = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
const table = (head: readonly string[], rows: readonly (readonly string[])[]) => [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");

function machineTable(run: BenchRun): string {
  return table(["machine", ""], [...Object.entries(run.machine), ["run", `${run.mode}, ${run.startedAt}`]]);
}

function phaseLabel(name: string, phase: PhaseResult): string {
  if (phase.offeredRate !== undefined) return `at ${whole(phase.offeredRate)}/s`;
  if (phase.rounds) return `${name}, median of ${phase.rounds.map(whole).join(" / ")}`;
  return name;
}

function figuresTable(run: BenchRun): string {
  const rows = run.scenarios.flatMap((s) =>
    Object.entries(s.phases).map(([name, p]) => [
      s.title,
      phaseLabel(name, p),
      whole(p.throughput),
      fixed(p.latency?.p50, 2),
      fixed(p.latency?.p95, 2),
      fixed(p.latency?.p99, 2),
      fixed(p.latency?.max, 2),
      whole(p.messages),
      p.missing ? whole(p.missing) : "0",
    ]),
  );
  return table(["scenario", "phase", "msg/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "messages", "lost"], rows);
}

function usageTable(run: BenchRun): string {
  // Phases that read no CPU (the fleet's searches, timed request by request) have no row.
  const rows = run.scenarios.flatMap((s) =>
    Object.entries(s.phases)
      .filter(([, p]) => Object.keys(p.usage).length > 0)
      .map(([name, p]) => [
        s.title,
        phaseLabel(name, p),
        Object.entries(p.usage)
          .map(([proc, u]) => `${proc} ${fixed(u.cpuSecondsPer1000, 3)}${u.peakRssMiB === undefined ? "" : ` (${whole(u.peakRssMiB)} MiB)`}`)
          .join(", "),
      ]),
  );
  return table(["scenario", "phase", "CPU s per 1,000 messages (peak RSS)"], rows);
}

/** What phases counted besides their messages, and the figures of other processes on their path. */
function countsTable(run: BenchRun): string {
  const named = (values: Record<string, number>) => Object.entries(values).map(([name, n]) => `${name} ${Number.isInteger(n) ? whole(n) : fixed(n, 3)}`);
  const rows = run.scenarios.flatMap((s) =>
    Object.entries(s.phases)
      .filter(([, p]) => p.counts || p.figures)
      .map(([name, p]) => [s.title, phaseLabel(name, p), [...named(p.counts ?? {}), ...named(p.figures ?? {})].join(", ")]),
  );
  return rows.length === 0 ? "" : table(["scenario", "phase", "counted, and other processes' figures"], rows);
}

function budgetTable(verdicts: readonly BudgetVerdict[]): string {
  const rows = verdicts.map((v) => [v.means, v.value === undefined ? "not measured" : fixed(v.value, 2), v.limit, v.status]);
  return table(["budget", "measured", "limit", "verdict"], rows);
}
