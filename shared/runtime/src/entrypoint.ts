import { systemClock } from "@umos/core";
import { ConfigError, loadConfig, type ServiceConfig, type ServiceName, type UmosConfig } from "@umos/config";
import { createObservability, type ObservabilityOptions } from "@umos/observability";
import { resourceStack, runService, type App, type AppDeps, type ResourceStack, type Service } from "./lifecycle";
import { commandLine } from "./command-line";
import { serviceLogger } from "./service-logger";

// Set by scripts/build.ts (bun build --define) in bundles and binaries; absent when run from the sources.
declare const UMOS_BUILD_VERSION: string | undefined;

/**
 * Puts one service together in its process: opens the parts it needs (a bus, a database), each
 * handed to `parts` to be closed after the service stopped, and returns createApp's result.
 */
export type Compose<S extends ServiceName> = (config: ServiceConfig<S>, deps: AppDeps, parts: ResourceStack) => Promise<App>;

/**
 * The whole of a service's main.ts: answer `--version`, or load and validate the configuration (a
 * bad key stops the process with one line naming it, exit code 2), make the logger, open the parts
 * and put the service together (`compose`), run until SIGTERM, then stop it and close its parts.
 */
export async function runMain<S extends ServiceName>(name: S, compose: Compose<S>): Promise<void> {
  const flags = commandLine(name, usage(name), { config: { type: "string" }, version: { type: "boolean" } });
  if (flags.version) {
    const version = typeof UMOS_BUILD_VERSION === "string" ? UMOS_BUILD_VERSION : "source";
    console.log(`${name} ${version} (Bun ${Bun.version}, ${process.platform}-${process.arch})`);
    process.exit(0);
  }
  let config: ServiceConfig<S>;
  try {
    config = await loadConfig(process.argv, process.env, name);
  } catch (err) {
    console.error(`${name}: ${err instanceof ConfigError ? err.message : String(err)}`);
    process.exit(2);
  }
  const deps = serviceDeps(name, config);
  const parts = resourceStack(deps.log);
  // Closed last, so the spans of the last requests go out; best effort, as while running: a collector
  // that is away fails no shutdown.
  parts.use(deps.obs, (obs) => obs.shutdown(), "the trace exporter");
  let app: App | undefined;
  const service: Service = {
    async start() {
      try {
        // Closed first: the service drains on its parts, then they close.
        app = parts.use(await compose(config, deps, parts), (started) => started.stop(), "the service");
        await app.start();
      } catch (err) {
        await parts.closeAll();
        throw err;
      }
    },
    stop: () => parts.closeAll(),
    pending: () => {
      const closing = parts.closing();
      return closing === "the service" ? `the service: ${app?.pending?.() ?? "stopping"}` : closing;
    },
  };
  await runService(service, deps.log, config.shutdownTimeoutMs);
}

/**
 * A service's logger, tracer and metrics, as runMain makes them; several services in one process
 * (standalone mode, tests) each get their own. Tests pass an in-memory span exporter.
 */
export function serviceDeps(name: string, config: Pick<UmosConfig, "log" | "tracing">, options: Pick<ObservabilityOptions, "exporter"> = {}): AppDeps {
  return {
    log: serviceLogger(name, config.log),
    obs: createObservability(name, { sampleRatio: config.tracing.sampleRatio, otlpUrl: config.tracing.otlpUrl, ...options }),
    clock: systemClock,
  };
}

function usage(name: string): string {
  return `${name} [options]: one UMOS service, until SIGTERM

  --config <file>   the configuration (default: configs/config.<UMOS_ENV>.yaml from the sources, else none)
  --version         the build's version and platform

Every config key can also be set as UMOS_<SECTION>__<KEY>, e.g. UMOS_BUS__URL (docs/configuration.md).`;
}
