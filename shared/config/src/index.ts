import { hostname } from "node:os";
import { resolve } from "node:path";
import { ConfigError, resolveConfig } from "./load";
import { UmosConfigSchema, type UmosConfig } from "./umos-config";

export { ConfigError, resolveConfig, envKeyToPath, type ConfigSource } from "./load";
export { UmosConfigSchema, type UmosConfig } from "./umos-config";

/** The repository's configs/ folder. */
export const configDir = resolve(import.meta.dir, "../../../configs");

/**
 * Loads configs/config.<UMOS_ENV>.yaml (or the file after `--config`), applies UMOS_* overrides and
 * validates. Throws ConfigError listing every bad key.
 */
export async function loadConfig(
  argv: string[] = process.argv,
  env: Record<string, string | undefined> = process.env,
): Promise<UmosConfig> {
  const flag = argv.indexOf("--config");
  const fileName =
    flag >= 0 && argv[flag + 1] ? resolve(argv[flag + 1]!) : resolve(configDir, `config.${env.UMOS_ENV ?? "dev"}.yaml`);
  const file = Bun.file(fileName);
  if (!(await file.exists())) throw new ConfigError([`config file ${fileName} not found (set UMOS_ENV or --config)`]);
  const parsed = Bun.YAML.parse(await file.text()) as Record<string, unknown>;
  // Replicas need distinct instance names (each iot-ws replica owns a queue); the host name is one.
  if (parsed && typeof parsed === "object" && parsed.instance === undefined) parsed.instance = hostname();
  return resolveConfig(UmosConfigSchema, { file: parsed, fileName, env, prefix: "UMOS" });
}
