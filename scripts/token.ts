/**
 * `bun run token -- --role <admin|operator|viewer> [--subject name] [--ttl seconds]`: a development
 * JWT signed with the configured HS256 secret (configs/config.dev.yaml unless UMOS_ENV says
 * otherwise). Production tokens come from your identity provider.
 */
import { parseArgs } from "node:util";
import { isRole, mintToken } from "@umos/auth";
import { ConfigError, loadConfig } from "@umos/config";

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
if (config.auth.algorithm !== "HS256" || !config.auth.secret) {
  console.error(`this configuration verifies ${config.auth.algorithm} tokens from ${config.auth.jwksUrl ?? "a JWKS URL"}: get a token from that identity provider`);
  process.exit(2);
}
const ttlSec = Number(values.ttl);
console.log(await mintToken({ secret: config.auth.secret, issuer: config.auth.issuer, audience: config.auth.audience, role: values.role, subject: values.subject, ttlSec }));
