import { grants, type Role, type Verifier } from "@umos/auth";
import { ForbiddenError, UnauthorizedError } from "@umos/runtime";
import { bearerToken } from "@umos/auth";

export type Access = Role | "public" | "webhook";

/** Writes an operator may do: command devices and set their properties (DESIGN §8). */
const OPERATOR_WRITES: ReadonlyArray<[string, RegExp]> = [
  ["POST", /^\/api\/v1\/devices\/[^/]+\/commands$/],
  ["PATCH", /^\/api\/v1\/devices\/[^/]+\/properties$/],
  ["DELETE", /^\/api\/v1\/commands\/[^/]+$/],
  ["POST", /^\/api\/v1\/devices\/[^/]+\/requests\/[^/]+\/reply$/],
];

/**
 * Who may call what, in one table: outside /api/v1 (health, readiness, docs) is public; the MQTT
 * broker's webhooks authenticate on their own; reading needs viewer, commanding operator, and every
 * other change (devices, credentials, thing models) admin, as does anything about dead letters.
 */
export function requiredAccess(method: string, path: string): Access {
  if (!path.startsWith("/api/v1/")) return "public";
  if (path.startsWith("/api/v1/webhooks/")) return "webhook";
  // Dead letters hold any device's raw payloads and can put messages back on the bus: admin, reads too.
  if (path === "/api/v1/dead-letters" || path.startsWith("/api/v1/dead-letters/")) return "admin";
  if (method === "GET" || method === "HEAD") return "viewer";
  return OPERATOR_WRITES.some(([m, pattern]) => m === method && pattern.test(path)) ? "operator" : "admin";
}

/**
 * Checks a request against the table: 401 without a valid token, 403 without the role. With
 * authentication off (`auth.enabled: false`) every caller is an admin.
 */
export function createAccessCheck(verify: Verifier | null, webhookToken: string | undefined) {
  return async function check(request: Request): Promise<void> {
    const url = new URL(request.url);
    const needed = requiredAccess(request.method, url.pathname);
    if (needed === "public") return;
    if (needed === "webhook") {
      if (webhookToken && url.searchParams.get("token") !== webhookToken) throw new UnauthorizedError("the webhook endpoint needs its ?token=");
      return;
    }
    if (!verify) return;
    const principal = await verify(bearerToken(request));
    if (!grants(principal.role, needed)) throw new ForbiddenError(`${request.method} ${url.pathname} needs the ${needed} role; the token has ${principal.role}`);
  };
}
