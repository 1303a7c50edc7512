import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { localSecret } from "@umos/auth";
import {
  ConfigError,
  configDir,
  DEV_JWT_SECRET,
  isLoopback,
  listenerProblems,
  pathToEnvKey,
  productionProblems,
  resolveConfig,
  UmosConfigSchema,
  type UmosConfig,
} from "@umos/config";
import { dataLayout } from "./data-dir";

/**
 * The configuration every service of the standalone process shares, when no
 * configs/config.standalone.yaml is at hand (a built binary). A test keeps the two identical.
 */
export const STANDALONE_DEFAULTS = {
  env: "dev",
  instance: "standalone",
  log: { level: "info", format: "pretty" },
  mqtt: {
    url: "mqtt://127.0.0.1:1883",
    protocolVersion: 4,
    sharedSubscriptions: false,
    username: "iot-gateway",
  },
  postgres: { url: "postgres://postgres@127.0.0.1:5433/postgres", maxConnections: 2 },
  timeseries: { kind: "postgres" },
} as const;

/** Command-line flags; each port flag stands for a config key that UMOS_* variables also set. */
const FLAGS = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  host: { type: "string" },
  "mqtt-host": { type: "string" },
  "api-port": { type: "string" },
  "ws-port": { type: "string" },
  "mqtt-port": { type: "string" },
  "postgres-port": { type: "string" },
  "uplink-port": { type: "string" },
  "downlink-port": { type: "string" },
  "gateway-port": { type: "string" },
  "rules-port": { type: "string" },
  help: { type: "boolean" },
} as const;

export const USAGE = `bun run start [-- options]: all of UMOS in one process, with an embedded MQTT broker, bus and PostgreSQL

  --data-dir <dir>        where everything is kept (default ./data), the signing secret too
  --config <file>         the shared configuration (default configs/config.standalone.yaml)
  --host <address>        where every listener binds (default 127.0.0.1: this machine only);
                          0.0.0.0 opens UMOS to the network: put TLS in front (docs/security.md)
  --mqtt-host <address>   where the MQTT broker alone binds (default: --host)
  --api-port <port>       REST API and console (api.port, 8080)
  --ws-port <port>        WebSocket push (ws.port, 8081)
  --mqtt-port <port>      MQTT broker for devices (the port of mqtt.url, 1883)
  --postgres-port <port>  embedded PostgreSQL, on 127.0.0.1 (the port of postgres.url, 5433)
  --uplink-port, --downlink-port, --gateway-port, --rules-port <port>
                          health and metrics (8082, 8083, 8084, 8085)

Every config key can also be set as UMOS_<SECTION>__<KEY> (docs/configuration.md).`;

export interface StandaloneSettings {
  /** Absolute. */
  dataDir: string;
  /** The one configuration of all six services. */
  config: UmosConfig;
  /** Where the embedded broker listens: --mqtt-host (or --host, else loopback), on mqtt.url's port. */
  mqtt: { host: string; port: number };
  /** Where the embedded PostgreSQL listens: postgres.url's host and port. */
  postgres: { host: string; port: number };
  /** bus.url was left to standalone mode: the embedded bus in the data directory. */
  embeddedBus: boolean;
}

export type ParsedCommandLine = { help: true } | { help: false; settings: StandaloneSettings };

/**
 * Flags over UMOS_* variables over the config file (or the defaults above): the file's values,
 * then the environment's, then the flags, validated once by the same schema as every service.
 * Tokens are signed with the data directory's own secret (`secretOf`, made on first start) unless
 * a secret of the operator's own is configured.
 */
export async function standaloneSettings(
  argv: string[],
  env: Record<string, string | undefined>,
  secretOf: (dataDir: string) => string = localSecret,
): Promise<ParsedCommandLine> {
  const { values } = parseFlags(argv);
  if (values.help) return { help: true };

  const dataDir = resolve(values["data-dir"] ?? "./data");
  const fileName = values.config ? resolve(values.config) : configDir && resolve(configDir, "config.standalone.yaml");
  const file = fileName ? await readFile(fileName) : structuredClone(STANDALONE_DEFAULTS);
  const overrides: Record<string, string> = {};
  const port = (flag: keyof typeof FLAGS): string | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(String(raw)) || Number(raw) > 65535) throw new ConfigError([`--${flag}: expected a port number, got '${raw}'`]);
    return String(raw);
  };
  const setPort = (flag: keyof typeof FLAGS, key: string) => {
    const value = port(flag);
    if (value !== undefined) overrides[pathToEnvKey("UMOS", key.split("."))] = value;
  };
  setPort("api-port", "api.port");
  setPort("ws-port", "ws.port");
  setPort("uplink-port", "uplink.port");
  setPort("downlink-port", "downlink.port");
  setPort("gateway-port", "gateway.port");
  setPort("rules-port", "rules.port");
  // The broker and the database are this process's own, so their URLs point here.
  const mqttPort = port("mqtt-port");
  if (mqttPort !== undefined) overrides.UMOS_MQTT__URL = `mqtt://127.0.0.1:${mqttPort}`;
  const postgresPort = port("postgres-port");
  if (postgresPort !== undefined) overrides.UMOS_POSTGRES__URL = `postgres://postgres@127.0.0.1:${postgresPort}/postgres`;

  const host = values.host;
  if (host !== undefined) for (const key of ["api", "ws", "uplink", "downlink", "gateway", "rules"]) overrides[pathToEnvKey("UMOS", [key, "host"])] = host;

  const merged: Record<string, string | undefined> = { ...env, ...overrides };
  // A bus named anywhere, under its name or the old one (rabbitmq), replaces the embedded one.
  const sections = file as { bus?: { url?: string }; rabbitmq?: { url?: string } };
  const embeddedBus =
    merged.UMOS_BUS__URL === undefined && merged.UMOS_RABBITMQ__URL === undefined && sections.bus?.url === undefined && sections.rabbitmq?.url === undefined;
  if (embeddedBus) merged.UMOS_BUS__URL = `embedded:${dataLayout(dataDir).bus}`;
  // Firmware packages beside the rest of this installation's data, unless configured elsewhere.
  if ((file as { firmware?: { dir?: string } }).firmware?.dir === undefined) merged.UMOS_FIRMWARE__DIR ??= dataLayout(dataDir).firmware;
  // The gateway's broker account lives as long as this process: nobody else needs its password.
  merged.UMOS_MQTT__PASSWORD ??= Bun.randomUUIDv7();
  // The development secret is public: this installation signs with its own unless given one.
  const configured = merged.UMOS_AUTH__SECRET ?? (file as { auth?: { secret?: string } }).auth?.secret;
  if (configured === undefined || configured === DEV_JWT_SECRET) merged.UMOS_AUTH__SECRET = secretOf(dataDir);
  const resolveMerged = () =>
    resolveConfig(UmosConfigSchema, { file, fileName: fileName ?? "the standalone defaults", env: merged, prefix: "UMOS", warn: (line) => console.warn(line) });
  let config = resolveMerged();
  if (config.firmware.publicUrl === undefined) {
    // Devices download firmware from this process's API: on loopback unless told the address they reach it at.
    merged.UMOS_FIRMWARE__PUBLIC_URL = `http://${isLoopback(config.api.host) ? config.api.host : "127.0.0.1"}:${config.api.port}`;
    config = resolveMerged();
  }
  // UMOS_ENV=prod holds standalone mode to production's rules too: a secret of its own, TLS.
  const problems = [...productionProblems(config), ...listenerProblems(config)];
  const mqttUrl = new URL(config.mqtt.url);
  const postgresUrl = new URL(config.postgres.url);
  // The embedded PostgreSQL lets anyone in who reaches it (trust authentication).
  if (!isLoopback(postgresUrl.hostname))
    problems.push(`config key postgres.url: the embedded PostgreSQL accepts any login, so it listens on loopback only, not ${postgresUrl.hostname}`);
  if (problems.length > 0) throw new ConfigError(problems);
  // The gateway and the services connect to these URLs as they are, so "any free port" cannot work here.
  if (mqttUrl.port === "0") throw new ConfigError(["config key mqtt.url: the embedded MQTT broker needs a fixed port, not 0"]);
  if (postgresUrl.port === "0") throw new ConfigError(["config key postgres.url: the embedded PostgreSQL needs a fixed port, not 0"]);
  return {
    help: false,
    settings: {
      dataDir,
      config,
      mqtt: { host: values["mqtt-host"] ?? host ?? "127.0.0.1", port: Number(mqttUrl.port || 1883) },
      postgres: { host: postgresUrl.hostname, port: Number(postgresUrl.port || 5432) },
      embeddedBus,
    },
  };
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError([`${(err as Error).message} (bun run start -- --help lists the options)`]);
  }
}

async function readFile(fileName: string): Promise<Record<string, unknown>> {
  const file = Bun.file(fileName);
  if (!(await file.exists())) throw new ConfigError([`config file ${fileName} not found`]);
  return Bun.YAML.parse(await file.text()) as Record<string, unknown>;
}
