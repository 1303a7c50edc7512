import { ConfigError, loadConfig } from "@umos/config";
import { createLogger, runService } from "@umos/runtime";
import { createApp } from "./app";

const config = await loadConfig().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(2);
});
const log = createLogger("iot-api", config.log);
await runService(createApp(config, { log }), log, config.shutdownTimeoutMs);
