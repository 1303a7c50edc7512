import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { LOCAL_SECRET_FILE, localSecret, mintToken, type Role } from "@umos/auth";
import type { UmosConfig } from "@umos/config";

/** The configuration verifies tokens from an identity provider: no development token can be made here. */
export class NoDevelopmentSecretError extends Error {
  override name = "NoDevelopmentSecretError";
}

/**
 * The secret the local platform verifies tokens with: UMOS_AUTH__SECRET when set; else the one
 * `bun run start` and `bun run dev` made in the data directory (`<dataDir>/auth-secret`); else the
 * configured one (a service started by hand, on loopback).
 */
export function localSigningSecret(auth: UmosConfig["auth"], dataDir: string, env: Record<string, string | undefined>): string | undefined {
  if (env.UMOS_AUTH__SECRET) return auth.secret;
  return existsSync(join(dataDir, LOCAL_SECRET_FILE)) ? localSecret(dataDir) : auth.secret;
}

/** A development JWT signed the way iot-api and iot-ws of the local platform verify it. */
export async function developmentToken(
  auth: UmosConfig["auth"],
  role: Role,
  options: { subject?: string; ttlSec?: number; dataDir?: string; env?: Record<string, string | undefined> } = {},
): Promise<string> {
  if (auth.algorithm !== "HS256") {
    throw new NoDevelopmentSecretError(
      `this configuration verifies ${auth.algorithm} tokens from ${auth.jwksUrl ?? "a JWKS URL"}: get a token from that identity provider`,
    );
  }
  const secret = localSigningSecret(auth, resolve(options.dataDir ?? "data"), options.env ?? process.env);
  if (!secret) throw new NoDevelopmentSecretError("no signing secret: start UMOS once (bun run start or bun run dev) or set UMOS_AUTH__SECRET");
  return mintToken({ secret, issuer: auth.issuer, audience: auth.audience, role, subject: options.subject, ttlSec: options.ttlSec });
}
