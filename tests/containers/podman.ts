import { join } from "node:path";

/** Podman with this directory's containers.conf (runc, ulimits the sandbox allows). */
export const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: join(import.meta.dir, "containers.conf") };

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `podman <args>`; a non-zero exit throws with podman's own message unless allowFailure. */
export async function podman(
  args: string[],
  options: { stdin?: ReadableStream<Uint8Array>; allowFailure?: boolean; cwd?: string } = {},
): Promise<PodmanResult> {
  const proc = Bun.spawn(["podman", ...args], { env: PODMAN_ENV, cwd: options.cwd, stdin: options.stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 && !options.allowFailure) throw new Error(`podman ${args.slice(0, 3).join(" ")} failed (${code}): ${stderr.trim().slice(-2000)}`);
  return { code, stdout, stderr };
}
