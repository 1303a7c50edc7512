/**
 * Stand-ins for the base images deployments/docker/Dockerfile names, made from this host's files,
 * because no image registry is reachable here. The Dockerfile is built unchanged on top of them.
 *
 * - `oven/bun:<version>` and `oven/bun:<version>-slim`: the running Bun binary (the version the
 *   Dockerfile pins; anything else is refused), glibc as `ldd` lists it, BusyBox as the shell and
 *   userland, CA certificates, and the user `bun` (1000:1000) with /home/bun/app, as the official
 *   images have. The official ones are Debian bookworm (slim) with Debian's userland; the stand-in has
 *   BusyBox's instead and no package manager, which the Dockerfile does not use.
 * - `gcr.io/distroless/base-debian12:nonroot`: glibc, CA certificates and the user `nonroot`
 *   (65532), no shell, as the official one; it lacks the official image's tzdata and libssl, which the
 *   compiled gateway does not load (Bun carries its own TLS and root certificates).
 *
 * Both carry the host's NODE_EXTRA_CA_CERTS when it is set (see below); the official ones do not.
 */
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { podman } from "./podman";

export const STAND_IN_LABEL = "org.umos.stand-in";

/** The base images the Dockerfile names, from its FROM lines (stages it names itself excluded). */
export function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const [, image = "", name] of dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    if (!stages.has(image) && !bases.includes(image)) bases.push(image);
    if (name) stages.add(name);
  }
  return bases;
}

/** The shared libraries a dynamically linked executable loads, as `ldd` resolves them on this host. */
async function sharedLibraries(executable: string): Promise<string[]> {
  const out = await new Response(Bun.spawn(["ldd", executable], { stdout: "pipe" }).stdout).text();
  return [...out.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]!);
}

interface RootFs {
  dir: string;
  /** Copies a host file to the same path inside, following symbolic links. */
  copy(hostPath: string, at?: string): Promise<void>;
  dirOf(path: string, mode: number, uid?: number): Promise<void>;
  write(path: string, text: string): Promise<void>;
}

async function rootFs(): Promise<RootFs> {
  const dir = await mkdtemp(join(tmpdir(), "umos-stand-in-"));
  const inside = (p: string) => join(dir, p);
  return {
    dir,
    async copy(hostPath, at = hostPath) {
      await mkdir(dirname(inside(at)), { recursive: true });
      await copyFile(await realpath(hostPath), inside(at));
      await chmod(inside(at), 0o755);
    },
    async dirOf(path, mode, uid = 0) {
      await mkdir(inside(path), { recursive: true });
      await chmod(inside(path), mode);
      await chown(inside(path), uid, uid);
    },
    async write(path, text) {
      await mkdir(dirname(inside(path)), { recursive: true });
      await writeFile(inside(path), text);
    },
  };
}

/**
 * Where this host adds certificate authorities to Bun's own (NODE_EXTRA_CA_CERTS: here, the CA of
 * the proxy in front of the npm registry), the stand-ins carry the same file and setting, so that
 * `bun install` in the build stage reaches the registry as the host's Bun does.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS;
const extraCaEnv = EXTRA_CA ? [`ENV NODE_EXTRA_CA_CERTS=${EXTRA_CA}`] : [];
/** What a stand-in was made from: it is made again when this changes. */
const standInId = `bun-${Bun.version}${EXTRA_CA ? "+extra-ca" : ""}`;

async function glibcAndCertificates(fs: RootFs, executable: string) {
  for (const lib of await sharedLibraries(executable)) await fs.copy(lib);
  await fs.copy("/etc/ssl/certs/ca-certificates.crt");
  if (EXTRA_CA) await fs.copy(EXTRA_CA);
  await fs.dirOf("/tmp", 0o1777);
  await fs.dirOf("/root", 0o700);
}

async function importImage(fs: RootFs, tags: string[], changes: string[]) {
  const tar = Bun.spawn(["tar", "-C", fs.dir, "--numeric-owner", "-cf", "-", "."], { stdout: "pipe" });
  const [first, ...rest] = tags;
  const args = ["import", ...changes.flatMap((c) => ["--change", c]), "--change", `LABEL ${STAND_IN_LABEL}=${standInId}`, "-", first!];
  await podman(args, { stdin: tar.stdout });
  for (const tag of rest) await podman(["tag", first!, tag]);
  await rm(fs.dir, { recursive: true, force: true });
}

async function bunImage(tags: string[]) {
  const fs = await rootFs();
  await glibcAndCertificates(fs, process.execPath);
  await fs.copy(process.execPath, "/usr/local/bin/bun");
  await symlink("bun", join(fs.dir, "usr/local/bin/bunx"));
  await fs.copy("/bin/busybox", "/bin/busybox");
  const applets = (await new Response(Bun.spawn(["/bin/busybox", "--list"], { stdout: "pipe" }).stdout).text()).split("\n").filter(Boolean);
  for (const applet of applets) if (applet !== "busybox") await symlink("busybox", join(fs.dir, "bin", applet));
  await fs.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nbun:x:1000:1000::/home/bun:/bin/sh\n");
  await fs.write("/etc/group", "root:x:0:\nbun:x:1000:\n");
  await fs.dirOf("/home/bun", 0o755, 1000);
  await fs.dirOf("/home/bun/app", 0o755, 1000);
  await importImage(fs, tags, ["ENV PATH=/usr/local/bin:/usr/bin:/bin", ...extraCaEnv, "WORKDIR /home/bun/app", 'CMD ["/usr/local/bin/bun"]']);
}

async function distrolessImage(tags: string[]) {
  const fs = await rootFs();
  // What a compiled Bun executable loads is what Bun itself loads.
  await glibcAndCertificates(fs, process.execPath);
  await fs.write("/etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
  await fs.write("/etc/group", "root:x:0:\nnonroot:x:65532:\n");
  await fs.dirOf("/home/nonroot", 0o700, 65532);
  await importImage(fs, tags, [...extraCaEnv, "USER 65532", "WORKDIR /home/nonroot"]);
}

/** Makes (or keeps, when made by this Bun) a stand-in for every base image the Dockerfile names. */
export async function makeStandIns(dockerfilePath: string): Promise<string[]> {
  const bases = baseImages(await readFile(dockerfilePath, "utf8"));
  const made: string[] = [];
  const bun = bases.filter((b) => b.startsWith("oven/bun:"));
  const distroless = bases.filter((b) => b.startsWith("gcr.io/distroless/base"));
  const unknown = bases.filter((b) => !bun.includes(b) && !distroless.includes(b));
  if (unknown.length > 0) throw new Error(`no stand-in for base image ${unknown.join(", ")}: add one to tests/containers/stand-in.ts`);
  for (const tag of bun) {
    const version = tag.slice("oven/bun:".length).replace(/-slim$/, "");
    if (version !== Bun.version) throw new Error(`the Dockerfile pins ${tag}, but this is Bun ${Bun.version}: run the test with Bun ${version}`);
  }
  const current = async (tag: string) =>
    (await podman(["image", "inspect", "--format", `{{index .Labels "${STAND_IN_LABEL}"}}`, tag], { allowFailure: true })).stdout.trim() === standInId;
  for (const [tags, make] of [
    [bun, bunImage],
    [distroless, distrolessImage],
  ] as const) {
    const missing = [];
    for (const tag of tags) if (!(await current(tag))) missing.push(tag);
    if (missing.length === 0) continue;
    await make(missing);
    made.push(...missing);
  }
  return made;
}
