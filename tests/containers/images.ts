import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { podman } from "./podman";
import { makeStandIns } from "./stand-in";

export const root = resolve(import.meta.dir, "../..");
export const DOCKERFILE = join(root, "deployments/docker/Dockerfile");

/** The image targets of the Dockerfile: its named stages that begin with `iot-`. */
export async function imageTargets(): Promise<string[]> {
  const text = await readFile(DOCKERFILE, "utf8");
  return [...text.matchAll(/^FROM\s+\S+\s+AS\s+(iot-\S+)/gim)].map((m) => m[1]!);
}

export interface BuiltImage {
  target: string;
  tag: string;
  buildMs: number;
  bytes: number;
}

export const imageTag = (target: string, tag: string) => `umos/${target}:${tag}`;

/**
 * Every target of the real Dockerfile, unchanged, on stand-ins for its base images. The first
 * target builds the shared stages; the others reuse their layers, as a CI image build would.
 */
export async function buildImages(tag: string): Promise<{ standInsMs: number; images: BuiltImage[] }> {
  if (Bun.which("podman") === null) throw new Error("podman is not installed (bash .ci/run installs it: apt-get install podman runc)");
  const t0 = performance.now();
  await makeStandIns(DOCKERFILE);
  const standInsMs = performance.now() - t0;
  const revision = Bun.spawnSync(["git", "describe", "--always", "--dirty"], { cwd: root }).stdout.toString().trim();
  const images: BuiltImage[] = [];
  for (const target of await imageTargets()) {
    const started = performance.now();
    const name = imageTag(target, tag);
    // --network host: the build stage installs packages from the npm registry. --format docker:
    // the OCI image format has no HEALTHCHECK, and podman would drop the Dockerfile's.
    await podman([
      "build",
      "--format",
      "docker",
      "--network",
      "host",
      "--layers",
      "-f",
      DOCKERFILE,
      "--target",
      target,
      "--build-arg",
      `REVISION=${revision}`,
      "-t",
      name,
      root,
    ]);
    const bytes = Number((await podman(["image", "inspect", "--format", "{{.Size}}", name])).stdout.trim());
    images.push({ target, tag: name, buildMs: performance.now() - started, bytes });
  }
  return { standInsMs, images };
}
