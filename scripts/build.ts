/**
 * `bun run build`: each service as a single-file executable (`bun build --compile`) for edge hosts,
 * `dist/<service>-linux-x64` and `dist/<service>-linux-arm64`; or, with `--bundle`, as one JavaScript
 * file per service for the container image (`dist/bundle/<service>.js`, run by the image's Bun).
 *
 *   bun run build                                                 every service, both targets
 *   bun run build -- --service iot-gateway --target bun-linux-arm64
 *   bun run build -- --service iot-gateway --target native        this machine's platform (the edge image)
 *   bun run build -- --bundle --revision "$GIT_SHA"
 *
 * Neither needs node_modules at run time. `--version` prints `<package version>+<git revision>`.
 * Cross-compiling fetches the other target's Bun runtime once (from npm) into Bun's install cache.
 */
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { commandLine } from "@umos/runtime";

const DEFAULT_TARGETS = ["bun-linux-x64", "bun-linux-arm64"];

const root = resolve(import.meta.dir, "..");
// Every app is a service with an entry point apps/<service>/src/main.ts.
const SERVICES = (await readdir(join(root, "apps"), { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const values = commandLine(
  "build",
  `bun run build -- [options]: each service as a single-file executable for edge hosts, or a bundle for the container image

  --service <name>    only this service (repeatable; one of ${SERVICES.join(", ")})
  --target <target>   only this target (repeatable; default ${DEFAULT_TARGETS.join(", ")}; native: this machine's)
  --bundle            one JavaScript file per service in <outdir>/bundle instead of executables
  --outdir <dir>      where to write (default dist/)
  --revision <rev>    the revision --version reports (default: git describe)`,
  {
    service: { type: "string", multiple: true },
    target: { type: "string", multiple: true },
    bundle: { type: "boolean", default: false },
    outdir: { type: "string", default: join(root, "dist") },
    revision: { type: "string" },
  },
  { asked: "bun run build -- --help" },
);

const services = values.service ?? SERVICES;
const unknown = services.filter((s) => !SERVICES.includes(s));
if (unknown.length > 0) fail(`unknown service ${unknown.join(", ")} (one of ${SERVICES.join(", ")})`);
const revision = values.revision ?? (await gitRevision());

for (const service of services) {
  const entry = join(root, "apps", service, "src/main.ts");
  const define = { UMOS_BUILD_VERSION: JSON.stringify(await version(service, revision)) };
  if (values.bundle) {
    await Bun.build({
      entrypoints: [entry],
      target: "bun",
      outdir: join(values.outdir, "bundle"),
      // Assets (the OpenAPI UI's files) are shared by name and hash; the bundles sit beside them.
      naming: { entry: `${service}.[ext]`, asset: "[name]-[hash].[ext]" },
      define,
    });
    console.log(join(values.outdir, "bundle", `${service}.js`));
    continue;
  }
  for (const asked of values.target ?? DEFAULT_TARGETS) {
    const target = asked === "native" ? `bun-${process.platform}-${process.arch}` : asked;
    if (!/^bun-(linux|darwin|windows)-(x64|arm64)/.test(target)) fail(`unknown target ${target} (e.g. bun-linux-x64, bun-linux-arm64)`);
    const outfile = join(values.outdir, `${service}-${target.replace(/^bun-/, "")}`);
    await Bun.build({
      entrypoints: [entry],
      compile: {
        target: target as Bun.Build.CompileTarget,
        outfile,
        // The configuration is --config and the environment, nothing else: a .env or bunfig.toml in
        // whatever directory the binary starts from must not change it.
        autoloadDotenv: false,
        autoloadBunfig: false,
      },
      define,
    });
    console.log(outfile);
  }
}

async function version(service: string, rev: string | undefined): Promise<string> {
  const { version } = (await Bun.file(join(root, "apps", service, "package.json")).json()) as { version: string };
  return rev ? `${version}+${rev}` : version;
}

/** `d1c72dd`, `d1c72dd-dirty` with uncommitted changes; undefined without git or a checkout (a container build). */
async function gitRevision(): Promise<string | undefined> {
  try {
    const git = Bun.spawnSync(["git", "describe", "--always", "--dirty"], { cwd: root, stdout: "pipe", stderr: "ignore" });
    return git.success ? git.stdout.toString().trim() : undefined;
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(2);
}
