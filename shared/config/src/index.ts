import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, pathToEnvKey, RENAMED_SECTIONS, requiredKeys, resolveConfig } from "./load";
import type { TObject } from "@sinclair/typebox";
import { listenerProblems, productionProblems } from "./safety";
import { isServiceName, SERVICE_SECTIONS, serviceSchema, type ServiceConfig, type ServiceName } from "./service-sections";
import { UmosConfigSchema, type UmosConfig } from "./umos-config";

export { ConfigError, resolveConfig, envKeyToPath, pathToEnvKey, requiredKeys, type ConfigSource } from "./load";
export { UmosConfigSchema, DEV_JWT_SECRET, type UmosConfig } from "./umos-config";
export {
  SERVICE_SECTIONS,
  serviceSchema,
  isServiceName,
  type ServiceName,
  type ServiceConfig,
  type CommonConfig,
  type ApiConfig,
  type WsConfig,
  type UplinkConfig,
  type DownlinkConfig,
  type GatewayConfig,
  type RulesConfig,
} from "./service-sections";
export { productionProblems, listenerProblems, isLoopback } from "./safety";

/**
 * The repository's configs/ folder, when this module runs from the sources. Bundled or compiled by
 * scripts/build.ts (a container image, an edge binary) it sits in no repository: undefined.
 */
export const configDir = import.meta.dir.endsWith(join("shared", "config", "src")) ? resolve(import.meta.dir, "../../../configs") : undefined;

/**
 * Loads the file after `--config`, else configs/config.<UMOS_ENV>.yaml from the sources, else (a
 * built service without --config) nothing but the environment; applies UMOS_* overrides and
 * validates. A service takes the sections it reads (SERVICE_SECTIONS) and passes over the other
 * services' in a shared file or environment; without one named, the whole configuration is read.
 * The production and listener rules of what runs apply. Throws ConfigError listing every bad key.
 */
export async function loadConfig(argv?: string[], env?: Record<string, string | undefined>): Promise<UmosConfig>;
export async function loadConfig<S extends ServiceName>(argv: string[], env: Record<string, string | undefined>, service: S): Promise<ServiceConfig<S>>;
export async function loadConfig(
  argv: string[] = process.argv,
  env: Record<string, string | undefined> = process.env,
  service?: ServiceName,
): Promise<UmosConfig | ServiceConfig<ServiceName>> {
  const schema: TObject = isServiceName(service) ? serviceSchema(service) : UmosConfigSchema;
  const flag = argv.indexOf("--config");
  const fileName = flag >= 0 && argv[flag + 1] ? resolve(argv[flag + 1]!) : configDir && resolve(configDir, `config.${env.UMOS_ENV ?? "dev"}.yaml`);
  const parsed = fileName ? await readConfigFile(fileName) : environmentOnly(schema, env);
  // Replicas need distinct instance names (each iot-ws replica owns a queue); the host name is one.
  if (parsed && typeof parsed === "object" && parsed.instance === undefined) parsed.instance = hostname();
  const others = service
    ? Object.keys(UmosConfigSchema.properties).filter((section) => !(SERVICE_SECTIONS[service] as readonly string[]).includes(section))
    : [];
  const config = resolveConfig(schema, {
    file: parsed,
    fileName: fileName ?? "the environment",
    env,
    prefix: "UMOS",
    warn: (line) => console.warn(line),
    ignore: others,
  }) as UmosConfig;
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
function environmentOnly(schema: TObject, env: Record<string, string | undefined>): Record<string, unknown> {
  const renamedFrom = Object.fromEntries(Object.entries(RENAMED_SECTIONS).map(([old, now]) => [now, old]));
  const given = (path: string[]) =>
    env[pathToEnvKey("UMOS", path)] !== undefined ||
    (renamedFrom[path[0]!] !== undefined && env[pathToEnvKey("UMOS", [renamedFrom[path[0]!]!, ...path.slice(1)])] !== undefined);
  const missing = requiredKeys(schema).filter((path) => !given(path));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((path) => `config key ${path.join(".")}: required; no config file was given (--config <file>), so set ${pathToEnvKey("UMOS", path)}`),
    );
  }
  return {};
}
