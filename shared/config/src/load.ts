import type { Static, TObject } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/** A configuration that cannot run: every bad key, one line each, named by its dotted path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/**
 * Sections renamed, and the name they had: the old name is still read, moved to the new one unless
 * that is set too, with one line saying so (`ConfigSource.warn`).
 */
export const RENAMED_SECTIONS: Readonly<Record<string, string>> = { rabbitmq: "bus" };

export interface ConfigSource {
  /** Parsed file contents (YAML or JSON), before overrides. */
  file: unknown;
  /** Where the file came from, for messages. */
  fileName: string;
  /** Environment; keys `${prefix}_A__B_C` override `a.bC`. */
  env: Record<string, string | undefined>;
  prefix: string;
  /** Where deprecation lines go; they never stop the start. */
  warn?: (line: string) => void;
  /** Sections to pass over, in the file and the environment: another service's. */
  ignore?: readonly string[];
}

/**
 * Resolves file, then environment overrides, then schema defaults; coerces strings from the
 * environment to the schema's types; validates; returns a deep-frozen object. Reports every bad key
 * at once so an operator fixes them in one go.
 */
export function resolveConfig<S extends TObject>(schema: S, source: ConfigSource): Static<S> {
  const problems: string[] = [];
  const merged = structuredClone(isRecord(source.file) ? source.file : {}) as Record<string, unknown>;
  if (source.file != null && !isRecord(source.file)) problems.push(`${source.fileName}: expected a mapping at the top level`);

  const origin = new Map<string, string>();
  const deprecated = new Set<string>();
  for (const [old, now] of Object.entries(RENAMED_SECTIONS)) {
    if (merged[old] === undefined) continue;
    deprecated.add(old);
    if (merged[now] === undefined) merged[now] = merged[old];
    delete merged[old];
  }
  const setPaths: Array<[string[], string, string]> = [];
  for (const [name, raw] of Object.entries(source.env)) {
    if (raw === undefined || !name.startsWith(`${source.prefix}_`)) continue;
    const path = envKeyToPath(name.slice(source.prefix.length + 1));
    if (path.length === 0) continue;
    const renamed = RENAMED_SECTIONS[path[0]!];
    if (renamed) deprecated.add(path[0]!);
    setPaths.push([renamed ? [renamed, ...path.slice(1)] : path, raw, name]);
  }
  // A key under the new name wins over the same key under the old one, whatever the order of the environment.
  setPaths.sort(([, , a], [, , b]) => Number(isRenamedKey(b, source.prefix)) - Number(isRenamedKey(a, source.prefix)));
  for (const [path, raw, name] of setPaths) {
    setPath(merged, path, raw);
    origin.set(path.join("."), name);
  }
  for (const old of deprecated)
    source.warn?.(`config: '${old}' is deprecated; use '${RENAMED_SECTIONS[old]}' (${pathToEnvKey(source.prefix, [RENAMED_SECTIONS[old]!, "url"])}, ...)`);

  for (const section of source.ignore ?? []) delete merged[section];

  const withDefaults = Value.Default(schema, merged);
  const converted = Value.Convert(schema, withDefaults);
  for (const error of Value.Errors(schema, converted)) {
    const key = error.path.replace(/^\//, "").replaceAll("/", ".") || "(root)";
    const from = origin.get(key) ? ` (from ${origin.get(key)})` : ` (in ${source.fileName})`;
    problems.push(`config key ${key}: ${error.message}${from}`);
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return deepFreeze(converted as Static<S>);
}

const isRenamedKey = (name: string, prefix: string) => RENAMED_SECTIONS[envKeyToPath(name.slice(prefix.length + 1))[0] ?? ""] !== undefined;

/** `BUS__URL` -> ["bus", "url"]; `UPLINK__BATCH_SIZE` -> ["uplink", "batchSize"]. */
export function envKeyToPath(key: string): string[] {
  return key
    .split("__")
    .filter(Boolean)
    .map((segment) => segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

/** ["uplink", "batchSize"] -> `UMOS_UPLINK__BATCH_SIZE`: the inverse of envKeyToPath. */
export function pathToEnvKey(prefix: string, path: string[]): string {
  return `${prefix}_${path.map((segment) => segment.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join("__")}`;
}

/** The paths a schema requires and cannot default: what a configuration without a file must set. */
export function requiredKeys(schema: TObject, prefix: string[] = []): string[][] {
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    if (!schema.required?.includes(key) || child.default !== undefined) return [];
    return child.type === "object" && child.properties ? requiredKeys(child as TObject, [...prefix, key]) : [[...prefix, key]];
  });
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    if (!isRecord(node[segment])) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
