import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, pathToEnvKey, RENAMED_SECTIONS, requiredKeys, resolveConfig } from "./load";
import { listenerProblems, productionProblems, UmosConfigSchema, type UmosConfig } from "./umos-config";

export { ConfigError, resolveConfig, envKeyToPath, pathToEnvKey, requiredKeys, type ConfigSource } from "./load";
export { UmosConfigSchema, DEV_JWT_SECRET, productionProblems, listenerProblems, isLoopback, type UmosConfig } from "./umos-config";

/**
 * The repository's configs/ folder, when this module runs from the sources. Bundled or compiled by
 * scripts/build.ts (a container image, an edge binary) it sits in no repository: undefined.
 */
export const configDir = import.meta.dir.endsWith(join("shared", "config", "src")) ? resolve(import.meta.dir, "../../../configs") : undefined;

/**
 * Loads the file after `--config`, else configs/config.<UMOS_ENV>.yaml from the sources, else (a
 * built service without --config) nothing but the environment; applies UMOS_* overrides and
 * validates, with the production and listener rules of `service` (all of them when none is named). Throws
 * ConfigError listing every bad key.
 */
export async function loadConfig(argv: string[] = process.argv, env: Record<string, string | undefined> = process.env, service?: string): Promise<UmosConfig> {
  const flag = argv.indexOf("--config");
  const fileName = flag >= 0 && argv[flag + 1] ? resolve(argv[flag + 1]!) : configDir && resolve(configDir, `config.${env.UMOS_ENV ?? "dev"}.yaml`);
  const parsed = fileName ? await readConfigFile(fileName) : environmentOnly(env);
  // Replicas need distinct instance names (each iot-ws replica owns a queue); the host name is one.
  if (parsed && typeof parsed === "object" && parsed.instance === undefined) parsed.instance = hostname();
  const config = resolveConfig(UmosConfigSchema, {
    file: parsed,
    fileName: fileName ?? "the environment",
    env,
    prefix: "UMOS",
    warn: (line) => console.warn(line),
  });
  const problems = [...productionProblems(config, service), ...listenerProblems(config, service)];
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

async function readConfigFile(fileName: string): Promise<Record<string, unknown>> {
  const file = Bun.file(fileName);
  if (!(await file.exists())) throw new ConfigError([`config file ${fileName} not found (set UMOS_ENV or --config)`]);
  return Bun.YAML.parse(await file.text()) as Record<string, unknown>;
}

/** Without a file, the keys nothing can default must all come from the environment: name each one missing. */
function environmentOnly(env: Record<string, string | undefined>): Record<string, unknown> {
  const renamedFrom = Object.fromEntries(Object.entries(RENAMED_SECTIONS).map(([old, now]) => [now, old]));
  const given = (path: string[]) =>
    env[pathToEnvKey("UMOS", path)] !== undefined ||
    (renamedFrom[path[0]!] !== undefined && env[pathToEnvKey("UMOS", [renamedFrom[path[0]!]!, ...path.slice(1)])] !== undefined);
  const missing = requiredKeys(UmosConfigSchema).filter((path) => !given(path));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((path) => `config key ${path.join(".")}: required; no config file was given (--config <file>), so set ${pathToEnvKey("UMOS", path)}`),
    );
  }
  return {};
}
