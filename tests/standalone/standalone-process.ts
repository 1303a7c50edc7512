import { resolve } from "node:path";
import { TEST_JWT_SECRET, eventually, freePort } from "@umos/testkit";

const ROOT = resolve(import.meta.dir, "../..");

export interface StandalonePorts {
  api: number;
  ws: number;
  mqtt: number;
  postgres: number;
  uplink: number;
  downlink: number;
  gateway: number;
  rules: number;
}

export interface StandaloneProcess {
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything it printed on stdout and stderr so far. */
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export async function freeStandalonePorts(): Promise<StandalonePorts> {
  const [api, ws, mqtt, postgres, uplink, downlink, gateway, rules] = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  return { api: api!, ws: ws!, mqtt: mqtt!, postgres: postgres!, uplink: uplink!, downlink: downlink!, gateway: gateway!, rules: rules! };
}

export function standaloneArgs(dataDir: string, ports: StandalonePorts): string[] {
  return [
    "--data-dir",
    dataDir,
    "--api-port",
    String(ports.api),
    "--ws-port",
    String(ports.ws),
    "--mqtt-port",
    String(ports.mqtt),
    "--postgres-port",
    String(ports.postgres),
    "--uplink-port",
    String(ports.uplink),
    "--downlink-port",
    String(ports.downlink),
    "--gateway-port",
    String(ports.gateway),
    "--rules-port",
    String(ports.rules),
  ];
}

/**
 * `bun run start` as a user runs it, on the given ports and data directory, with the tests' JWT
 * secret; `UMOS_AUTH__SECRET: undefined` leaves it to make its own, as on a user's machine.
 */
export function spawnStandalone(args: string[], env: Record<string, string | undefined> = {}): StandaloneProcess {
  let text = "";
  // No UMOS_* from the test's own environment: nothing may point it at a RabbitMQ or PostgreSQL.
  const merged = { ...withoutUmosKeys(process.env), UMOS_AUTH__SECRET: TEST_JWT_SECRET, UMOS_LOG__LEVEL: "warn", ...env };
  const proc = Bun.spawn(["bun", resolve(ROOT, "apps/standalone/src/main.ts"), ...args], {
    cwd: ROOT,
    env: Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)) as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  return {
    proc,
    output: () => text,
    async stop() {
      proc.kill("SIGTERM");
      return proc.exited;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** Starts it and waits for its banner; PGlite's first start (initdb) takes a few seconds. */
export async function startStandalone(dataDir: string, ports: StandalonePorts, env: Record<string, string | undefined> = {}): Promise<StandaloneProcess> {
  const running = spawnStandalone(standaloneArgs(dataDir, ports), env);
  try {
    await eventually(() => running.output().includes("UMOS standalone is up") || running.proc.exitCode !== null, 60_000, "standalone banner");
    if (running.proc.exitCode !== null) throw new Error(`standalone exited with ${running.proc.exitCode}: ${running.output()}`);
  } catch (err) {
    await running.kill();
    throw err;
  }
  return running;
}

function withoutUmosKeys(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith("UMOS_")));
}
