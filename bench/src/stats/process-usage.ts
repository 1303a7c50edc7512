import { readdirSync, readFileSync, writeFileSync } from "node:fs";

/** A process whose CPU time and memory a phase reports; `pids` holds several for PostgreSQL's backends. */
export interface WatchedProcess {
  name: string;
  pids: number[];
}

export interface ProcessUsage {
  cpuSeconds: number;
  /** CPU seconds per 1,000 messages of the phase. */
  cpuSecondsPer1000: number;
  /** Peak resident memory during the phase (VmHWM, reset at the start), MiB; absent for process groups. */
  peakRssMiB?: number;
}

/** USER_HZ: /proc reports CPU time in these ticks; 100 on every Linux build we run on (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

/** utime + stime of the whole process, all threads (proc(5), fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0; // the process is gone (a PostgreSQL backend that closed); it used nothing since
  }
}

function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Writing 5 to clear_refs resets VmHWM to the current RSS (proc(5)), so each phase reports its own peak. */
function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    /* not permitted (not root): the peak then covers the process's whole life, still an upper bound */
  }
}

/**
 * Every process whose command name is `comm` and whose command line (arguments joined by spaces)
 * `keep` accepts: the brokers and the database serve other users of this machine too.
 */
export function pidsByName(comm: string, keep: (commandLine: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== comm) continue;
      if (keep(readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " "))) pids.push(Number(entry));
    } catch {
      /* exited while we looked */
    }
  }
  return pids;
}

/** Starts a reading of the processes' CPU time; `stop(messages)` returns each one's share of the phase. */
export function startUsage(processes: readonly WatchedProcess[]) {
  const before = processes.map((p) => p.pids.map(cpuSeconds));
  for (const p of processes) if (p.pids.length === 1) resetPeakRss(p.pids[0]!);
  return {
    stop(messages: number): Record<string, ProcessUsage> {
      return Object.fromEntries(
        processes.map((p, i) => {
          const used = p.pids.reduce((sum, pid, j) => sum + Math.max(0, cpuSeconds(pid) - before[i]![j]!), 0);
          const usage: ProcessUsage = { cpuSeconds: used, cpuSecondsPer1000: messages > 0 ? (used * 1000) / messages : 0 };
          if (p.pids.length === 1) usage.peakRssMiB = peakRssMiB(p.pids[0]!);
          return [p.name, usage];
        }),
      );
    },
  };
}
