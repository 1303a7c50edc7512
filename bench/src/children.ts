import { readdirSync, readFileSync } from "node:fs";

/** Sends SIGTERM to every process this one started (by parent pid, from /proc) and exits with 130. */
export function stopChildren(why: string): never {
  console.error(`bench: stopping ${why}`);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4, the parent pid, follows the command name's closing parenthesis and the state.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === process.pid) process.kill(Number(entry), "SIGTERM");
    } catch {
      /* gone meanwhile */
    }
  }
  process.exit(130);
}
