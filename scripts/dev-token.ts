import { mintToken, type Role } from "@umos/auth";
import type { UmosConfig } from "@umos/config";

/** The configuration verifies tokens from an identity provider: no development token can be made here. */
export class NoDevelopmentSecretError extends Error {
  override name = "NoDevelopmentSecretError";
}

/** A development JWT signed with the configured HS256 secret, as iot-api and iot-ws verify it. */
export async function developmentToken(auth: UmosConfig["auth"], role: Role, subject?: string, ttlSec?: number): Promise<string> {
  if (auth.algorithm !== "HS256" || !auth.secret) {
    throw new NoDevelopmentSecretError(`this configuration verifies ${auth.algorithm} tokens from ${auth.jwksUrl ?? "a JWKS URL"}: get a token from that identity provider`);
  }
  return mintToken({ secret: auth.secret, issuer: auth.issuer, audience: auth.audience, role, subject, ttlSec });
}
