import { resolve } from "node:path";
import { testEnv, type TestEndpoints } from "./config";
import { eventually, freePort } from "./services";

export const SERVICES = ["api", "ws", "uplink", "downlink", "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface RunningPlatform {
  ports: Record<ServiceName, number>;
  apiUrl: string;
  wsUrl: string;
  /** SIGTERM to every service; resolves when all have exited, with their exit codes. */
  stop(): Promise<Record<ServiceName, number>>;
}

/** Starts the five services as separate processes, the way `bun run dev` does, on free ports. */
export async function startPlatform(endpoints: TestEndpoints, extra: Record<string, string> = {}): Promise<RunningPlatform> {
  const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const))) as Record<ServiceName, number>;
  const env = {
    ...process.env,
    ...testEnv(endpoints, {
      UMOS_API__PORT: String(ports.api),
      UMOS_WS__PORT: String(ports.ws),
      UMOS_UPLINK__PORT: String(ports.uplink),
      UMOS_DOWNLINK__PORT: String(ports.downlink),
      UMOS_GATEWAY__PORT: String(ports.gateway),
      ...extra,
    }),
  };
  const root = resolve(import.meta.dir, "../../..");
  const procs = SERVICES.map((s) => Bun.spawn(["bun", resolve(root, `apps/iot-${s}/src/main.ts`)], { env, cwd: root, stdout: "inherit", stderr: "inherit" }));
  const stop = async () => {
    for (const p of procs) p.kill("SIGTERM");
    const codes = await Promise.all(procs.map((p) => p.exited));
    return Object.fromEntries(SERVICES.map((s, i) => [s, codes[i]!])) as Record<ServiceName, number>;
  };
  try {
    await Promise.all(
      SERVICES.map((s) => eventually(async () => (await fetch(`http://127.0.0.1:${ports[s]}/ready`)).ok, 30_000, `iot-${s} ready`)),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, apiUrl: `http://127.0.0.1:${ports.api}`, wsUrl: `ws://127.0.0.1:${ports.ws}/ws`, stop };
}
