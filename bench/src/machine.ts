import { cpus, release, totalmem } from "node:os";
import { rabbitmqctl } from "@umos/testkit";

/** What the figures were measured on: they mean little without it (docs/performance.md). */
export async function describeMachine(): Promise<Record<string, string>> {
  const cpu = cpus();
  return {
    cpu: `${cpu.length} x ${cpu[0]?.model.trim() ?? "unknown"}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: `Linux ${release()}`,
    bun: Bun.version,
    rabbitmq: (await rabbitmqctl("version").catch(() => "unknown")).trim(),
    mosquitto: await firstLine(["mosquitto", "-h"]),
    postgres: await firstLine(["psql", "--version"]),
  };
}

async function firstLine(command: string[]): Promise<string> {
  try {
    const proc = Bun.spawn(command, { stdout: "pipe", stderr: "ignore" });
    const text = await new Response(proc.stdout).text();
    await proc.exited;
    return text.split("\n")[0]!.trim();
  } catch {
    return "unknown";
  }
}
