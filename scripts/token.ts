/**
 * `bun run token -- --role <admin|operator|viewer> [--subject name] [--ttl seconds] [--data-dir dir]`:
 * a development JWT, signed with the secret the local platform verifies: the one `bun run start` and
 * `bun run dev` keep in the data directory (./data/auth-secret), or UMOS_AUTH__SECRET. Production
 * tokens come from your identity provider.
 */
import { isRole } from "@umos/auth";
import { ConfigError, loadConfig } from "@umos/config";
import { commandLine } from "@umos/runtime";
import { developmentToken, NoDevelopmentSecretError } from "./dev-token";

const USAGE = `bun run token -- [options]: a development token for the local API and WebSocket

  --role <role>       admin, operator or viewer (default admin)
  --subject <name>    the token's subject (default dev-<role>)
  --ttl <seconds>     how long it is valid (default 86400)
  --data-dir <dir>    the data directory of bun run start / bun run dev (default ./data)`;

const values = commandLine(
  "token",
  USAGE,
  {
    role: { type: "string", default: "admin" },
    subject: { type: "string" },
    ttl: { type: "string", default: "86400" },
    "data-dir": { type: "string", default: "data" },
  },
  { asked: "bun run token -- --help" },
);
if (!isRole(values.role)) fail(`--role must be admin, operator or viewer, not '${values.role}'`);
const ttlSec = Number(values.ttl);
if (!Number.isInteger(ttlSec) || ttlSec < 1) fail(`--ttl must be a whole number of seconds, not '${values.ttl}'`);

const config = await loadConfig([], process.env).catch((err: unknown) => fail(err instanceof ConfigError ? err.message : String(err)));
const token = await developmentToken(config.auth, values.role, { subject: values.subject, ttlSec, dataDir: values["data-dir"] }).catch((err: unknown) =>
  fail(err instanceof NoDevelopmentSecretError || err instanceof Error ? err.message : String(err)),
);
console.log(token);

function fail(message: string): never {
  console.error(`token: ${message}`);
  process.exit(2);
}
