import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HTMLBundle } from "bun";
import { Elysia } from "elysia";
import type { ApiConfig } from "@umos/config";
import { needs } from "./access";
// Bun bundles the console (TypeScript, CSS) from this HTML import: on first request when run from
// the sources, at build time into a bundle or a compiled binary (scripts/build.ts).
import page from "../console/index.html";

interface ConsoleFile {
  body: Uint8Array;
  headers: Record<string, string>;
}

/** The web console as files, by path: `/` and the hashed scripts and stylesheets it names. */
export type ConsoleBundle = ReadonlyMap<string, ConsoleFile>;

/**
 * Reads the console as Bun built it, once at start-up. Bun serves an HTML import only as a static
 * route of Bun.serve, whose headers cannot be set, and the page needs its security headers (CSP,
 * framing): so a private server on a Unix socket hands over the page and every file it names, and
 * iot-api serves them itself. About 30 ms, and a few tens of KB of memory.
 */
export async function loadConsole(bundle: HTMLBundle = page): Promise<ConsoleBundle> {
  const socket = join(tmpdir(), `umos-console-${process.pid}-${Bun.randomUUIDv7()}.sock`);
  const server = Bun.serve({ unix: socket, routes: { "/": bundle }, development: false, fetch: () => new Response(null, { status: 404 }) });
  try {
    const read = async (path: string) => {
      const res = await fetch(`http://localhost${path}`, { unix: socket });
      if (!res.ok) throw new Error(`the console's ${path} could not be built (${res.status})`);
      return { body: await res.bytes(), type: res.headers.get("content-type") ?? "application/octet-stream", etag: res.headers.get("etag") };
    };
    const index = await read("/");
    const files = new Map<string, ConsoleFile>();
    files.set("/", { body: index.body, headers: { "content-type": index.type, "cache-control": "no-cache", ...(index.etag ? { etag: index.etag } : {}) } });
    for (const path of linkedFiles(new TextDecoder().decode(index.body))) {
      const file = await read(path);
      // Their names carry a content hash: a new build is a new name.
      files.set(path, { body: file.body, headers: { "content-type": file.type, "cache-control": "public, max-age=31536000, immutable" } });
    }
    return files;
  } finally {
    await server.stop(true);
    rmSync(socket, { force: true });
  }
}

/** The scripts and stylesheets of the page: the bundle Bun wrote, at root-relative paths. */
function linkedFiles(html: string): string[] {
  const paths: string[] = [];
  const take = (attribute: string) => ({
    element(el: HTMLRewriterTypes.Element) {
      const value = el.getAttribute(attribute);
      if (value?.startsWith("/") && !value.startsWith("//")) paths.push(value);
    },
  });
  new HTMLRewriter().on("script[src]", take("src")).on('link[rel="stylesheet"][href]', take("href")).transform(html);
  return paths;
}

/**
 * Content-Security-Policy of the console page: its own scripts and styles only, no inline script,
 * no framing (clickjacking), API calls to itself and the WebSocket to the iot-ws origin it is given.
 */
function consolePolicy(wsUrl: string): string {
  const ws = new URL(wsUrl);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${ws.protocol}//${ws.host}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The console's page and files, and what the page cannot know from its own URL, public like the
 * page: where the WebSocket API is (`api.consoleWsUrl`, else this host on `ws.port`). Whether there
 * is a time series the page learns from the telemetry route itself (501 without one).
 */
export function consoleRoutes(config: ApiConfig, bundle: ConsoleBundle) {
  const wsUrl = (request: Request) => config.api.consoleWsUrl ?? `${config.ws.tls ? "wss" : "ws"}://${new URL(request.url).hostname}:${config.ws.port}/ws`;
  const app = new Elysia().get("/console/config", ({ request }) => ({ wsUrl: wsUrl(request) }), {
    detail: needs("public", { hide: true }),
  });
  for (const [path, file] of bundle) {
    app.get(
      path,
      ({ request }) => {
        const headers = path === "/" ? { ...file.headers, "content-security-policy": consolePolicy(wsUrl(request)) } : file.headers;
        return new Response(file.body, { headers });
      },
      { detail: needs("public", { hide: true }) },
    );
  }
  return app;
}
