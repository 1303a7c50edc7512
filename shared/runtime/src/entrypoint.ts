import { ConfigError, loadConfig, type UmosConfig } from "@umos/config";
import { runService, type AppDeps, type Service } from "./lifecycle";
import { createLogger } from "./logger";

/**
 * The whole of a service's main.ts: load and validate the configuration (a bad key stops the
 * process with one line naming it, exit code 2), make the logger, run until SIGTERM.
 */
export async function runMain(name: string, createApp: (config: UmosConfig, deps: AppDeps) => Service): Promise<void> {
  let config: UmosConfig;
  try {
    config = await loadConfig();
  } catch (err) {
    console.error(`${name}: ${err instanceof ConfigError ? err.message : String(err)}`);
    process.exit(2);
  }
  const log = createLogger(name, config.log);
  await runService(createApp(config, { log }), log, config.shutdownTimeoutMs);
}
