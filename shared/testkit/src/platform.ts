import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { jsonClient, wsDashboard } from "./clients";
import { testEnv, testToken, type TestEndpoints } from "./config";
import { listensOn } from "./listener";
import { createDatabase, createVhost, freePort, startMosquitto, type TestDatabase, type TestMosquitto, type TestVhost } from "./services";

export const SERVICES = ["api", "ws", "uplink", "downlink", "gateway", "rules"] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface RunningPlatform {
  ports: Record<ServiceName, number>;
  /** Process ids of the services started, for the bench's CPU and memory readings. */
  pids: Partial<Record<ServiceName, number>>;
  apiUrl: string;
  wsUrl: string;
  /** SIGTERM to every service; resolves when all have exited, with their exit codes. */
  stop(): Promise<Record<ServiceName, number>>;
  /** Signals one service (SIGKILL: a crash) and resolves once its process is gone. */
  kill(service: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped or killed service again, same ports and settings; resolves once it is ready. */
  restart(service: ServiceName): Promise<void>;
}

/**
 * Starts the services as separate processes, the way `bun run dev` does, on free ports: all six,
 * or only those named (the bench runs the gateway alone to measure its relay).
 */
export async function startPlatform(
  endpoints: TestEndpoints,
  extra: Record<string, string> = {},
  services: readonly ServiceName[] = SERVICES,
): Promise<RunningPlatform> {
  const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const))) as Record<ServiceName, number>;
  const env = {
    ...process.env,
    ...testEnv(endpoints, {
      UMOS_API__PORT: String(ports.api),
      UMOS_WS__PORT: String(ports.ws),
      UMOS_UPLINK__PORT: String(ports.uplink),
      UMOS_DOWNLINK__PORT: String(ports.downlink),
      UMOS_GATEWAY__PORT: String(ports.gateway),
      UMOS_RULES__PORT: String(ports.rules),
      ...extra,
    }),
  };
  const root = resolve(import.meta.dir, "../../..");
  const spawn = (s: ServiceName) =>
    Bun.spawn(["bun", resolve(root, `apps/iot-${s}/src/main.ts`)], {
      // Firmware links point at this platform's own API unless the test says otherwise.
      env: { UMOS_FIRMWARE__PUBLIC_URL: `http://127.0.0.1:${ports.api}`, ...env, [`UMOS_${s.toUpperCase()}__PORT`]: String(ports[s]) },
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    });
  const procs: Subprocess[] = [];
  const pids: Partial<Record<ServiceName, number>> = {};
  const indexOf = (service: ServiceName) => {
    const i = services.indexOf(service);
    if (i < 0) throw new Error(`iot-${service} is not part of this platform`);
    return i;
  };

  /** True once this process (not another that took the port) answers /ready; false if it exited. */
  const ready = async (s: ServiceName, proc: Subprocess) => {
    const deadline = Date.now() + 30_000;
    while (proc.exitCode === null) {
      const ok = await fetch(`http://127.0.0.1:${ports[s]}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok && listensOn(proc.pid, ports[s])) return true;
      if (Date.now() > deadline) throw new Error(`iot-${s} not ready within 30000 ms`);
      await Bun.sleep(25);
    }
    return false;
  };

  /**
   * Starts a service and waits until it is ready. Its port may go to another process first (other
   * tests draw from the same range); it is then started again on another, unless `fixedPort`: iot-api
   * and iot-ws keep, once running, the URLs their clients hold.
   */
  const launch = async (s: ServiceName, fixedPort: boolean) => {
    for (let attempt = 1; ; attempt++) {
      const proc = spawn(s);
      procs[indexOf(s)] = proc;
      pids[s] = proc.pid;
      if (await ready(s, proc)) return;
      if (attempt === 3) throw new Error(`iot-${s} did not start (exit code ${proc.exitCode}); its log is above`);
      if (!fixedPort) ports[s] = await freePort();
    }
  };

  const stop = async () => {
    for (const p of procs) p.kill("SIGTERM");
    const codes = await Promise.all(procs.map((p) => p.exited));
    return Object.fromEntries(services.map((s, i) => [s, codes[i]!])) as Record<ServiceName, number>;
  };
  try {
    await Promise.all(services.map((s) => launch(s, false)));
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = async (service: ServiceName, signal: NodeJS.Signals = "SIGKILL") => {
    const proc = procs[indexOf(service)]!;
    proc.kill(signal);
    await proc.exited;
  };
  const restart = (service: ServiceName) => launch(service, service === "api" || service === "ws");
  return { ports, pids, apiUrl: `http://127.0.0.1:${ports.api}`, wsUrl: `ws://127.0.0.1:${ports.ws}/ws`, stop, kill, restart };
}

export interface TestStack {
  vhost: TestVhost;
  database: TestDatabase;
  broker: TestMosquitto;
  platform: RunningPlatform;
  /** An admin token the platform accepts. */
  token: string;
  api: ReturnType<typeof jsonClient>;
  dashboard(subscription: Record<string, unknown>): ReturnType<typeof wsDashboard>;
  /** Stops the services (SIGTERM), then removes the vhost, the database and the broker. */
  dispose(): Promise<void>;
}

/** A vhost, a database, a Mosquitto and the six services on them: what an end-to-end test runs against. */
export async function startStack(extra: Record<string, string> = {}): Promise<TestStack> {
  const [vhost, database, broker] = await Promise.all([createVhost(), createDatabase(), startMosquitto()]);
  let platform: RunningPlatform | undefined;
  const dispose = async () => {
    await platform?.stop();
    await Promise.all([vhost.dispose(), database.dispose(), broker.stop()]);
  };
  try {
    platform = await startPlatform({ busUrl: vhost.url, mqttUrl: broker.url, postgresUrl: database.url }, extra);
  } catch (err) {
    await dispose();
    throw err;
  }
  const running = platform;
  const token = await testToken("admin");
  return {
    vhost,
    database,
    broker,
    platform: running,
    token,
    api: jsonClient(running.apiUrl, token),
    dashboard: (s) => wsDashboard(running.wsUrl, s, token),
    dispose,
  };
}
