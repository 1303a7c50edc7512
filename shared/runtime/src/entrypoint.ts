import { ConfigError, loadConfig, type UmosConfig } from "@umos/config";
import { createObservability, type ObservabilityOptions } from "@umos/observability";
import { runService, type AppDeps, type Service } from "./lifecycle";
import { serviceLogger } from "./service-logger";

// Set by scripts/build.ts (bun build --define) in bundles and binaries; absent when run from the sources.
declare const UMOS_BUILD_VERSION: string | undefined;

/**
 * The whole of a service's main.ts: answer `--version`, or load and validate the configuration (a
 * bad key stops the process with one line naming it, exit code 2), make the logger, run until SIGTERM.
 */
export async function runMain(name: string, createApp: (config: UmosConfig, deps: AppDeps) => Service): Promise<void> {
  if (process.argv.includes("--version")) {
    const version = typeof UMOS_BUILD_VERSION === "string" ? UMOS_BUILD_VERSION : "source";
    console.log(`${name} ${version} (Bun ${Bun.version}, ${process.platform}-${process.arch})`);
    process.exit(0);
  }
  let config: UmosConfig;
  try {
    config = await loadConfig(process.argv, process.env, name);
  } catch (err) {
    console.error(`${name}: ${err instanceof ConfigError ? err.message : String(err)}`);
    process.exit(2);
  }
  const deps = serviceDeps(name, config);
  const app = createApp(config, deps);
  // Spans of the last requests are flushed to the collector after the service drained.
  const flushed = { start: () => app.start(), stop: () => app.stop().finally(() => deps.obs.shutdown()) };
  await runService(flushed, deps.log, config.shutdownTimeoutMs);
}

/**
 * A service's logger, tracer and metrics, as runMain makes them; several services in one process
 * (standalone mode, tests) each get their own. Tests pass an in-memory span exporter.
 */
export function serviceDeps(name: string, config: UmosConfig, options: Pick<ObservabilityOptions, "exporter"> = {}): AppDeps {
  return {
    log: serviceLogger(name, config.log),
    obs: createObservability(name, { sampleRatio: config.tracing.sampleRatio, otlpUrl: config.tracing.otlpUrl, ...options }),
  };
}
