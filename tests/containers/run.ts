import { readFile } from "node:fs/promises";
import { eventually, uid } from "@umos/testkit";
import { podman } from "./podman";

/** A container of the test's own, on the host network. */
export interface Container {
  name: string;
  /** What `podman run` to GET /ready answering 200 took. */
  startMs: number;
  port: number;
  /** The process's user id as the host's kernel sees it (rootful podman, no user namespace). */
  uid(): Promise<number>;
  /** `podman healthcheck run` (the image's HEALTHCHECK) and the state it leaves. */
  healthcheck(): Promise<{ code: number; status: string }>;
  /** `podman stop` (SIGTERM, SIGKILL after `timeoutSec`): how long it took and the exit code. */
  stop(timeoutSec?: number): Promise<{ ms: number; exitCode: number }>;
  kill(): Promise<void>;
  /** `podman start` again, until /ready answers. */
  start(): Promise<void>;
  logs(): Promise<string>;
  remove(): Promise<void>;
}

export interface RunOptions {
  image: string;
  env: Record<string, string>;
  /** The service's port: /ready is read there. */
  port: number;
  readOnly?: boolean;
  volumes?: string[];
}

const ready = (port: number) => eventually(async () => (await fetch(`http://127.0.0.1:${port}/ready`)).ok, 30_000, `GET /ready on ${port}`);

export async function runContainer(service: string, options: RunOptions): Promise<Container> {
  const name = `umos-test-${service}-${uid()}`;
  const env = Object.entries(options.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const volumes = (options.volumes ?? []).flatMap((v) => ["-v", v]);
  const started = performance.now();
  await podman(["run", "-d", "--name", name, "--network", "host", ...(options.readOnly ? ["--read-only"] : []), ...volumes, ...env, options.image]);
  const inspect = async (format: string) => (await podman(["inspect", "--format", format, name])).stdout.trim();
  const container: Container = {
    name,
    startMs: 0,
    port: options.port,
    async uid() {
      const status = await readFile(`/proc/${await inspect("{{.State.Pid}}")}/status`, "utf8");
      return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    },
    async healthcheck() {
      const run = await podman(["healthcheck", "run", name], { allowFailure: true });
      return { code: run.code, status: await inspect("{{.State.Health.Status}}") };
    },
    async stop(timeoutSec = 30) {
      const t = performance.now();
      await podman(["stop", "-t", String(timeoutSec), name]);
      return { ms: performance.now() - t, exitCode: Number(await inspect("{{.State.ExitCode}}")) };
    },
    async kill() {
      await podman(["kill", "-s", "KILL", name]);
      await podman(["wait", name], { allowFailure: true });
    },
    async start() {
      await podman(["start", name]);
      await ready(options.port);
    },
    logs: async () => {
      const run = await podman(["logs", name], { allowFailure: true });
      return run.stdout + run.stderr;
    },
    remove: async () => void (await podman(["rm", "-f", "-t", "0", name], { allowFailure: true })),
  };
  try {
    await ready(options.port);
  } catch (err) {
    throw new Error(`${service} did not get ready: ${(err as Error).message}\n${(await container.logs()).slice(-3000)}`);
  }
  container.startMs = performance.now() - started;
  return container;
}
