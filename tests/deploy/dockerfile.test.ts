import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { inherited, parseDockerfile } from "./dockerfile";
import { defaultPort, pinnedBunVersion, read, root, SERVICES } from "./repo";

// No Docker engine runs here (docs/deployment.md): the image is checked by what it is made of.
const stages = parseDockerfile(await read("deployments/docker/Dockerfile"));
const ignored = (await read(".dockerignore")).split("\n").filter((l) => l && !l.startsWith("#"));

describe("container image (deployments/docker/Dockerfile)", () => {
  test("builds on the official Bun image of the version CI pins, and runs on its slim variant", async () => {
    const bun = await pinnedBunVersion();
    const images = stages.filter((s) => !stages.some((other) => other.name === s.from)).map((s) => s.from);
    expect(images.sort()).toEqual(["gcr.io/distroless/base-debian12:nonroot", `oven/bun:${bun}`, `oven/bun:${bun}-slim`]);
  });

  test("has an edge gateway target: the compiled executable on distroless, as an unprivileged user, its spool directory its own", () => {
    expect(stages.find((s) => s.name === "iot-gateway-edge")?.from).toBe("gcr.io/distroless/base-debian12:nonroot");
    expect(inherited(stages, "iot-gateway-edge", "ENTRYPOINT")).toEqual(['["/usr/local/bin/iot-gateway"]']);
    expect(inherited(stages, "iot-gateway-edge", "USER")).toEqual(["nonroot"]);
    expect(inherited(stages, "iot-gateway-edge", "COPY")).toContain("--from=edge-build --chown=65532:65532 /edge/var-lib-umos /var/lib/umos");
    expect(inherited(stages, "edge-build", "RUN").at(-1)).toStartWith("bun scripts/build.ts --service iot-gateway --target native");
  });

  test("has a target per service, each exposing and health-checking the service's configured port", () => {
    for (const service of SERVICES) {
      const port = defaultPort(service);
      expect(inherited(stages, service, "EXPOSE")).toEqual([String(port)]);
      expect(inherited(stages, service, "ENV")).toContain(`HEALTHCHECK_PORT=${port}`);
      expect(inherited(stages, service, "ENTRYPOINT")).toEqual([`["bun", "/app/${service}.js"]`]);
      expect(inherited(stages, service, "HEALTHCHECK")).toHaveLength(1);
    }
    expect(stages.at(-1)?.name).toBe("iot-gateway");
  });

  test("runs as an unprivileged user", () => {
    for (const service of SERVICES) {
      const user = inherited(stages, service, "USER").at(-1);
      expect(user).toBeDefined();
      expect(["root", "0", "0:0"]).not.toContain(user!);
    }
  });

  test("copies only files that exist and that .dockerignore lets into the build context", () => {
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "COPY" && !i.args.includes("--from="))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(resolve(root, source))).toBe(true);
      expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`))).toBe(false);
    }
    expect(ignored).toEqual(expect.arrayContaining([".git", "**/node_modules", "dist"]));
  });

  describe("the build stage's command", () => {
    let out: string;
    afterAll(() => rm(out, { recursive: true, force: true }));

    test("makes the bundle every ENTRYPOINT runs, which starts outside the repository", async () => {
      expect(inherited(stages, "build", "RUN").some((run) => run.startsWith("bun scripts/build.ts --bundle"))).toBe(true);
      out = await mkdtemp(join(tmpdir(), "umos-bundle-"));
      const build = Bun.spawnSync(["bun", "scripts/build.ts", "--bundle", "--revision", "test", "--outdir", out], { cwd: root, stderr: "pipe" });
      expect(build.stderr.toString()).toBe("");
      expect(build.exitCode).toBe(0);
      const files = await readdir(join(out, "bundle"));
      for (const service of SERVICES) expect(files).toContain(`${service}.js`);
      const version = Bun.spawnSync(["bun", join(out, "bundle", "iot-api.js"), "--version"], { cwd: tmpdir() });
      const { version: appVersion } = JSON.parse(await read("apps/iot-api/package.json")) as { version: string };
      expect(version.stdout.toString()).toStartWith(`iot-api ${appVersion}+test `);
    });
  });
});
