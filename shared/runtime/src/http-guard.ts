/**
 * What every HTTP listener of UMOS checks before routing: that the request names a host this
 * listener answers for, and that its path reads one way only.
 *
 * - **Host.** A page on any web site can make a browser send requests to 127.0.0.1 by pointing its
 *   own DNS name there (DNS rebinding); the browser then sends that name as `Host`. Answering only
 *   the names we serve defeats it.
 * - **One reading of the path.** The router (Elysia 1.4) takes the path from the first `/` after
 *   character 11 of the URL, assuming an origin at least that long, while `new URL().pathname`
 *   parses the real one; with a short `Host` they disagree, and a check on one while the other
 *   routes is a way around authorization (docs/findings.md). Such a request, an empty segment (`//`)
 *   and encoded slashes, backslashes, dots or NULs are refused instead of interpreted.
 */
export interface HttpGuard {
  /** A 400 answer for a request this listener must not serve, or undefined to go on. */
  refuse(request: Request): Response | undefined;
}

const WILDCARD_BINDS = new Set(["0.0.0.0", "::", "[::]", ""]);
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
/** A Host header: a DNS name, IPv4 or bracketed IPv6 address, and an optional port; nothing else. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::\d{1,5})?$/;
/** Path forms that different readers decode differently. */
const AMBIGUOUS_PATH = /\/\/|%2f|%5c|%2e|%00|\\/i;

/**
 * `bindHost` is the address the listener binds; `allowedHosts` the configured names
 * (comma-separated, `*.example.com` for subdomains). The localhost names and the bound address are
 * always allowed; without configured names, a listener on every interface (0.0.0.0) answers any name.
 */
export function createHttpGuard(bindHost: string, allowedHosts: string | undefined): HttpGuard {
  const configured = (allowedHosts ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const anyHost = configured.length === 0 && WILDCARD_BINDS.has(bindHost);
  const exact = new Set([
    ...LOOPBACK_NAMES,
    bindHost.includes(":") && !bindHost.startsWith("[") ? `[${bindHost}]` : bindHost.toLowerCase(),
    ...configured.filter((h) => !h.startsWith("*.")),
  ]);
  const suffixes = [".localhost", ...configured.filter((h) => h.startsWith("*.")).map((h) => h.slice(1))];

  function hostAllowed(header: string | null): boolean {
    const match = HOST_HEADER.exec((header ?? "").toLowerCase());
    if (!match) return false;
    if (anyHost) return true;
    const name = match[1]!;
    return exact.has(name) || suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }

  return {
    refuse(request) {
      const url = request.url;
      // Bun hands a relative URL when the Host header is missing or is not a host.
      const schemeEnd = url.startsWith("https://") ? 8 : url.startsWith("http://") ? 7 : -1;
      if (schemeEnd < 0 || !hostAllowed(request.headers.get("host"))) {
        return refusal("host_not_allowed", "this server does not answer for that Host; see allowedHosts in the configuration");
      }
      const query = url.indexOf("?", schemeEnd);
      const routerStart = url.indexOf("/", 11);
      const routerPath = routerStart < 0 ? "/" : url.slice(routerStart, query < 0 || query < routerStart ? undefined : query);
      const path = URL.parse(url)?.pathname;
      if (path === undefined || routerPath !== path || AMBIGUOUS_PATH.test(path)) {
        return refusal("bad_request_target", "the request path is not in canonical form (empty segments, encoded slashes, backslashes or dots)");
      }
      return undefined;
    },
  };
}

function refusal(code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status: 400 });
}
