import { ConfigError, loadConfig, type UmosConfig } from "@umos/config";
import { runService, type AppDeps, type Service } from "./lifecycle";
import { createLogger } from "./logger";

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
  const log = createLogger(name, config.log);
  await runService(createApp(config, { log }), log, config.shutdownTimeoutMs);
}
