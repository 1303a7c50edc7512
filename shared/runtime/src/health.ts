import type { Probe } from "@umos/core";
import type { Metrics } from "@umos/observability";
import { createHttpGuard } from "./http-guard";

export interface Readiness {
  ready: boolean;
  checks: Record<string, "up" | "down" | "timeout">;
}

/** Runs every probe at once, each raced against `timeoutMs`, so one hung dependency cannot hang /ready. */
export async function readiness(probes: Probe[], timeoutMs = 1000): Promise<Readiness> {
  const results = await Promise.all(
    probes.map(async (probe) => {
      let timer: Timer | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve(probe.check()).then((ok) => (ok ? "up" : "down")), timeout]);
        return [probe.name, outcome] as const;
      } catch {
        return [probe.name, "down"] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checks = Object.fromEntries(results) as Readiness["checks"];
  return { ready: results.every(([, outcome]) => outcome === "up"), checks };
}

/** Answers GET /health (the process lives) and GET /ready (its dependencies are up); undefined for other paths. */
export async function healthResponse(request: Request, probes: Probe[]): Promise<Response | undefined> {
  const { pathname } = new URL(request.url);
  if (pathname === "/health") return Response.json({ status: "ok" });
  if (pathname === "/ready") {
    const result = await readiness(probes);
    return Response.json(result, { status: result.ready ? 200 : 503 });
  }
  return undefined;
}

export interface HealthServerOptions {
  host: string;
  port: number;
  /** Host names answered besides the localhost names and `host` (config key allowedHosts). */
  allowedHosts: string | undefined;
  probes: Probe[];
  /** The service's registry, served at GET /metrics; its HTTP metrics count this port's requests. */
  metrics: Metrics;
}

const HEALTH_ROUTES = new Set(["/health", "/ready", "/metrics"]);

/** The health and metrics port of a service with no other HTTP surface: no data of any device. */
export function serveHealth(options: HealthServerOptions) {
  const { metrics } = options;
  const guard = createHttpGuard(options.host, options.allowedHosts);
  return Bun.serve({
    hostname: options.host,
    port: options.port,
    fetch: async (request) => {
      const started = performance.now();
      const refused = guard.refuse(request);
      const path = refused ? "" : new URL(request.url).pathname;
      const response =
        refused ??
        (path === "/metrics" ? await metrics.response() : ((await healthResponse(request, options.probes)) ?? new Response("not found", { status: 404 })));
      metrics.observeHttp(request.method, HEALTH_ROUTES.has(path) ? path : "unmatched", response.status, started);
      return response;
    },
  });
}
