import type { WatchedProcess } from "../stats/process-usage";

export interface Reference {
  /** What the process printed before "ready" (the bare WebSocket server prints its port). */
  banner: string;
  process: WatchedProcess;
  stop(): Promise<unknown>;
}

/** Starts a reference in a process of its own, so its CPU is read apart, and waits for its "ready". */
export async function spawnReference(name: string, file: string, env: Record<string, string> = {}): Promise<Reference> {
  const child = Bun.spawn(["bun", file], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the ${name} reference exited before it was ready`);
    text += decoder.decode(value);
  }
  reader.releaseLock();
  return {
    banner: text.slice(0, text.indexOf("ready")).trim(),
    process: { name, pids: [child.pid] },
    stop: async () => {
      child.kill("SIGTERM");
      return child.exited;
    },
  };
}
