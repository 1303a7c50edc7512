import type { DocumentDecoration } from "elysia";
import { bearerToken, grants, sameSecret, type Principal, type Role, type Verifier } from "@umos/auth";
import { ForbiddenError, UnauthorizedError } from "@umos/core";

/**
 * Who may call a route: a role (admin, operator, viewer), anyone, the MQTT broker with the webhook
 * token, or (`signed`) whoever holds a link the route itself checks: a firmware download.
 */
export type Access = Role | "public" | "webhook" | "signed";

/** The OpenAPI extension that carries a route's access, so the document says who may call what. */
export const ACCESS_KEY = "x-umos-access";

/**
 * A route's OpenAPI `detail` with the access it needs, declared beside the route (docs/design.md §8): reading
 * needs viewer, commanding operator, every other change admin; health and docs are public.
 */
export function needs(access: Access, detail: DocumentDecoration = {}): DocumentDecoration {
  // OpenAPI allows `x-` extensions on an operation; Elysia's type leaves them out.
  return { ...detail, [ACCESS_KEY]: access } as DocumentDecoration;
}

/** Routes that plugins add, which cannot declare their access themselves. */
const PLUGIN_ROUTES: Readonly<Record<string, Access>> = { "GET /openapi/json": "public" };

export interface DeclaredRoute {
  method: string;
  path: string;
  hooks: { detail?: unknown };
}

/** A route that says nothing about who may call it: the API refuses to start rather than guess. */
export class UndeclaredAccessError extends Error {
  override name = "UndeclaredAccessError";
}

/** `METHOD /route/:pattern` -> its access, from every route's declaration; throws naming each route without one. */
export function accessTable(routes: readonly DeclaredRoute[]): ReadonlyMap<string, Access> {
  const table = new Map<string, Access>();
  const undeclared: string[] = [];
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const declared = (route.hooks.detail as Record<string, unknown> | undefined)?.[ACCESS_KEY] ?? PLUGIN_ROUTES[key];
    if (declared === undefined) undeclared.push(key);
    else table.set(key, declared as Access);
  }
  if (undeclared.length > 0) throw new UndeclaredAccessError(`routes without a declared access (detail: needs(...)): ${undeclared.join(", ")}`);
  return table;
}

/**
 * Checks a request against the access of the route the router matched (its pattern, not the URL
 * re-read): 401 without a valid token, 403 without the role. The broker's webhook needs the webhook
 * token, compared in constant time, and is closed while none is configured. With authentication off
 * (`auth.enabled: false`, loopback only) every caller is an admin. Resolves to who called, where a
 * token said so.
 */
export function createAccessCheck(table: ReadonlyMap<string, Access>, verify: Verifier | null, webhookToken: string | undefined) {
  return async function check(request: Request, route: string): Promise<Principal | null> {
    const method = request.method === "HEAD" ? "GET" : request.method;
    const needed = table.get(`${method} ${route}`);
    // Every route the router can match is in the table; anything else is refused, not waved through.
    if (needed === undefined) throw new ForbiddenError(`${request.method} ${route} is not open to anyone`);
    // A signed link is checked by its route, which knows what was signed.
    if (needed === "public" || needed === "signed") return null;
    if (needed === "webhook") {
      if (!webhookToken) throw new UnauthorizedError("the broker webhook is off: set auth.webhookToken and add ?token=<it> to the webhook URL");
      if (!sameSecret(new URL(request.url).searchParams.get("token") ?? undefined, webhookToken))
        throw new UnauthorizedError("the webhook endpoint needs its ?token=");
      return null;
    }
    if (!verify) return null;
    const principal = await verify(bearerToken(request));
    if (!grants(principal.role, needed)) {
      throw new ForbiddenError(`${request.method} ${new URL(request.url).pathname} needs the ${needed} role; the token has ${principal.role}`);
    }
    return principal;
  };
}
