import { Elysia } from "elysia";
import type { UmosConfig } from "@umos/config";
// Bun bundles the console (TypeScript, CSS) from this HTML import: on first request when run from
// the sources, at build time into a bundle or a compiled binary (scripts/build.ts). Bun serves the
// page with `cache-control: no-cache` and an ETag, and its hashed scripts and styles as immutable.
import page from "../console/index.html";

/** The web console's page, for Bun.serve's static routes at `/`. */
export const consolePage = page;

/**
 * What the console cannot know from its own URL, public like the page: where the WebSocket API is
 * (`api.consoleWsUrl`, else this host on `ws.port`), and whether telemetry queries have a time
 * series behind them (else it charts the message log).
 */
export function consoleConfigRoute(config: UmosConfig) {
  return new Elysia().get(
    "/console/config",
    ({ request }) => ({
      wsUrl: config.api.consoleWsUrl ?? `${config.ws.tls ? "wss" : "ws"}://${new URL(request.url).hostname}:${config.ws.port}/ws`,
      telemetry: Boolean(config.influx.url),
    }),
    { detail: { hide: true } },
  );
}
