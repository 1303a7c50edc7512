/**
 * `bun run dev`: the six services against the configured brokers (configs/config.dev.yaml unless
 * UMOS_ENV or --config say otherwise), with each line of output prefixed by its service. Creates
 * the PostgreSQL database if it is missing. Ctrl-C stops them all, each draining its work.
 *
 * Every listener binds 127.0.0.1 (config keys *.host), and tokens are signed with the secret kept in
 * ./data/auth-secret (made on first use, shared with `bun run start` and read by `bun run token`)
 * unless UMOS_AUTH__SECRET names another.
 */
import { resolve } from "node:path";
import { localSecret } from "@umos/auth";
import { ConfigError, DEV_JWT_SECRET, loadConfig } from "@umos/config";
import { commandLine } from "@umos/runtime";
import { ensureDatabase } from "@umos/store";

const SERVICES = ["api", "ws", "uplink", "downlink", "gateway", "rules"] as const;
const COLORS = [36, 35, 33, 32, 34, 31];

const flags = commandLine(
  "dev",
  `bun run dev -- [options]: the six services as separate processes against the configured brokers

  --config <file>   the configuration all six read (default configs/config.<UMOS_ENV>.yaml, UMOS_ENV=dev)

Every config key can also be set as UMOS_<SECTION>__<KEY>, e.g. UMOS_BUS__URL (docs/configuration.md).`,
  { config: { type: "string" } },
  { asked: "bun run dev -- --help" },
);
const forwarded = flags.config ? ["--config", flags.config] : [];
const config = await loadConfig(["bun", "dev", ...forwarded]).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : String(err));
  process.exit(2);
});
await ensureDatabase(config.postgres.url).catch((err: unknown) => {
  console.error(`cannot reach PostgreSQL at ${new URL(config.postgres.url).host}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

const root = new URL("..", import.meta.url).pathname;
// The development secret in config.dev.yaml is public; the services of `bun run dev` use this checkout's own.
const env = { ...process.env };
if (config.auth.algorithm === "HS256" && !env.UMOS_AUTH__SECRET && config.auth.secret === DEV_JWT_SECRET) env.UMOS_AUTH__SECRET = localSecret(resolve("data"));
let stopping = false;
const children = SERVICES.map((name, i) => {
  const tag = `\x1b[${COLORS[i]}m${`iot-${name}`.padEnd(13)}\x1b[0m|`;
  const child = Bun.spawn(["bun", `apps/iot-${name}/src/main.ts`, ...forwarded], {
    cwd: root,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  void prefixLines(child.stdout, tag, process.stdout);
  void prefixLines(child.stderr, tag, process.stderr);
  void child.exited.then((code) => {
    if (stopping) return;
    console.error(`${tag} exited with code ${code}; stopping the others`);
    void stopAll(1);
  });
  return child;
});

async function stopAll(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((c) => c.exited));
  process.exit(exitCode);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function prefixLines(stream: ReadableStream<Uint8Array>, tag: string, out: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) out.write(`${tag} ${line}\n`);
  }
  if (pending) out.write(`${tag} ${pending}\n`);
}
