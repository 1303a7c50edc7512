import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { systemClock, UnauthorizedError, type Clock } from "@umos/core";
import { isRole, type Role } from "./roles";

export interface JwtOptions {
  algorithm: "HS256" | "RS256" | "ES256";
  /** HS256 only. */
  secret?: string;
  /** RS256 / ES256: where the signing keys are published. */
  jwksUrl?: string;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
}

/** Who is calling, from a verified token. */
export interface Principal {
  subject: string;
  role: Role;
  expiresAt: number | undefined;
}

export type Verifier = (token: string | undefined) => Promise<Principal>;

/**
 * Verifies Bearer tokens: signature (HS256 with a secret, or RS256/ES256 against a JWKS URL),
 * expiry, issuer and audience, and a `role` claim of admin, operator or viewer. Every failure is an
 * UnauthorizedError saying which check failed.
 *
 * An application sends the same token with every request, and verifying it (a key import and an
 * HMAC or signature check) was about 9% of iot-api's CPU per command: a token that verified is taken
 * again without the checks for VERIFIED_TTL_MS, never past its own expiry. Failures are not kept.
 */
export function createVerifier(options: JwtOptions, clock: Clock = systemClock): Verifier {
  const key: Uint8Array | JWTVerifyGetKey =
    options.algorithm === "HS256" ? new TextEncoder().encode(options.secret ?? "") : createRemoteJWKSet(new URL(options.jwksUrl ?? ""));
  const verified = new Map<string, { principal: Principal; until: number }>();
  return async (token) => {
    if (!token) throw new UnauthorizedError("a Bearer token is required (Authorization: Bearer <jwt>)");
    const now = clock.now();
    const hit = verified.get(token);
    if (hit && hit.until > now) return hit.principal;
    const principal = await verify(token);
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(token, { principal, until: Math.min(now + VERIFIED_TTL_MS, principal.expiresAt ?? Number.POSITIVE_INFINITY) });
    return principal;
  };

  async function verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms: [options.algorithm],
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSec,
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(clock.now()),
      }));
    } catch (err) {
      throw new UnauthorizedError(describe(err));
    }
    if (!isRole(payload.role)) throw new UnauthorizedError("the token has no role claim of admin, operator or viewer");
    return { subject: payload.sub!, role: payload.role, expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000 };
  }
}

/** How long a verified token is taken on trust: short, so a key taken out of a JWKS stops being honoured soon. */
const VERIFIED_TTL_MS = 30_000;
/** Tokens kept at most; past it the cache starts again (a flood of distinct tokens costs only their checks). */
const VERIFIED_MAX = 10_000;

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not accepted here`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token is signed with an algorithm not accepted here";
  if (err instanceof errors.JWKSNoMatchingKey) return "no published key matches the token";
  return "the token is malformed or cannot be verified";
}

/** A signed HS256 token, for development (`bun run token`) and tests. */
export function mintToken(options: { secret: string; issuer: string; audience: string; role: Role; subject?: string; ttlSec?: number }): Promise<string> {
  return new SignJWT({ role: options.role })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(options.subject ?? `dev-${options.role}`)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSec ?? 3600))
    .sign(new TextEncoder().encode(options.secret));
}

/** The token of a REST request: `Authorization: Bearer` only. A token in a URL ends up in logs, proxies and browser history. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (header?.toLowerCase().startsWith("bearer ")) return header.slice(7).trim() || undefined;
  return undefined;
}

/**
 * The token of a WebSocket handshake: `Authorization: Bearer`, or `?token=`, since a browser cannot
 * set headers on a WebSocket. Only the upgrade takes it from the URL.
 */
export function handshakeToken(request: Request): string | undefined {
  return bearerToken(request) ?? new URL(request.url).searchParams.get("token") ?? undefined;
}
