import { resolve } from "node:path";
import { envKeyToPath, UmosConfigSchema } from "@umos/config";

/** What the deployment checks read: the repository's own files, by path from its root. */
export const root = resolve(import.meta.dir, "../..");
export const read = (path: string) => Bun.file(resolve(root, path)).text();
export const readYaml = async <T>(path: string) => Bun.YAML.parse(await read(path)) as T;

/** The six services, as apps/ names them. */
export const SERVICES = ["iot-api", "iot-ws", "iot-uplink", "iot-downlink", "iot-gateway", "iot-rules"] as const;

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  default?: unknown;
}

/** The schema node of a config key, or undefined when the schema has no such key. */
export function configKey(path: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = UmosConfigSchema;
  for (const segment of path) node = node?.properties?.[segment];
  return node;
}

/** The config key an environment variable sets: `UMOS_UPLINK__BATCH_SIZE` -> uplink.batchSize, if it exists. */
export function configKeyOfEnv(name: string): string | undefined {
  if (!name.startsWith("UMOS_")) return undefined;
  const path = envKeyToPath(name.slice("UMOS_".length));
  return configKey(path) ? path.join(".") : undefined;
}

/** A service's default port (`api.port` for iot-api, ...), where Dockerfile, Compose and chart must agree. */
export function defaultPort(service: string): number {
  return configKey([service.replace(/^iot-/, ""), "port"])!.default as number;
}

/** The Bun version CI pins (.ci/run): the images must run the same. */
export async function pinnedBunVersion(): Promise<string> {
  return /^BUN_VERSION=(\S+)$/m.exec(await read(".ci/run"))![1]!;
}
