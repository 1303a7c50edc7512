/**
 * `bun run token -- --role <admin|operator|viewer> [--subject name] [--ttl seconds]`: a development
 * JWT signed with the configured HS256 secret (configs/config.dev.yaml unless UMOS_ENV says
 * otherwise). Production tokens come from your identity provider.
 */
import { parseArgs } from "node:util";
import { isRole } from "@umos/auth";
import { ConfigError, loadConfig } from "@umos/config";
import { developmentToken, NoDevelopmentSecretError } from "./dev-token";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { role: { type: "string", default: "admin" }, subject: { type: "string" }, ttl: { type: "string", default: "86400" } },
});

const config = await loadConfig([], process.env).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : String(err));
  process.exit(2);
});
if (!isRole(values.role)) {
  console.error(`--role must be admin, operator or viewer, not '${values.role}'`);
  process.exit(2);
}
const token = await developmentToken(config.auth, values.role, values.subject, Number(values.ttl)).catch((err: unknown) => {
  console.error(err instanceof NoDevelopmentSecretError ? err.message : String(err));
  process.exit(2);
});
console.log(token);
