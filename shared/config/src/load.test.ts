import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  DEV_JWT_SECRET,
  envKeyToPath,
  listenerProblems,
  loadConfig,
  pathToEnvKey,
  productionProblems,
  requiredKeys,
  resolveConfig,
  SERVICE_SECTIONS,
  serviceSchema,
  UmosConfigSchema,
} from "./index";

const file = {
  bus: { url: "amqp://localhost" },
  mqtt: { url: "mqtt://localhost" },
  postgres: { url: "postgres://localhost/umos" },
};
const resolve = (env: Record<string, string>, f: unknown = file) =>
  resolveConfig(UmosConfigSchema, { file: f, fileName: "config.test.yaml", env, prefix: "UMOS" });

describe("configuration", () => {
  test("environment keys map to nested camelCase paths", () => {
    expect(envKeyToPath("BUS__URL")).toEqual(["bus", "url"]);
    expect(envKeyToPath("UPLINK__BATCH_WAIT_MS")).toEqual(["uplink", "batchWaitMs"]);
  });

  test("a config path names its environment variable, the inverse of envKeyToPath", () => {
    expect(pathToEnvKey("UMOS", ["uplink", "batchWaitMs"])).toBe("UMOS_UPLINK__BATCH_WAIT_MS");
    expect(pathToEnvKey("UMOS", ["tlsOffloaded"])).toBe("UMOS_TLS_OFFLOADED");
    expect(envKeyToPath("TLS_OFFLOADED")).toEqual(["tlsOffloaded"]);
  });

  test("without a config file, the broker and database URLs are what must come from the environment", () => {
    expect(requiredKeys(UmosConfigSchema)).toEqual([
      ["bus", "url"],
      ["mqtt", "url"],
      ["postgres", "url"],
    ]);
  });

  test("defaults fill what the file leaves out; the environment wins over the file and is coerced", () => {
    const config = resolve({ UMOS_UPLINK__BATCH_SIZE: "64", UMOS_MQTT__SHARED_SUBSCRIPTIONS: "false", UMOS_BUS__URL: "amqp://broker" });
    expect(config.uplink.batchSize).toBe(64);
    expect(config.mqtt.sharedSubscriptions).toBe(false);
    expect(config.bus.url).toBe("amqp://broker");
    expect(config.api.port).toBe(8080);
    expect(config.bus.queueType).toBe("classic");
  });

  test("the bus section's old name, rabbitmq, is still read, with a line saying so; the new name wins", () => {
    const warnings: string[] = [];
    const read = (env: Record<string, string>, f: unknown) =>
      resolveConfig(UmosConfigSchema, { file: f, fileName: "old.yaml", env, prefix: "UMOS", warn: (l) => warnings.push(l) });
    const { bus: _bus, ...withoutBus } = file;
    expect(read({}, { ...withoutBus, rabbitmq: { url: "amqp://old-file", prefetch: 9 } }).bus).toMatchObject({ url: "amqp://old-file", prefetch: 9 });
    expect(read({ UMOS_RABBITMQ__URL: "amqp://old-env" }, withoutBus).bus.url).toBe("amqp://old-env");
    expect(read({ UMOS_BUS__URL: "amqp://new", UMOS_RABBITMQ__URL: "amqp://old" }, withoutBus).bus.url).toBe("amqp://new");
    expect(warnings).toEqual(Array(3).fill("config: 'rabbitmq' is deprecated; use 'bus' (UMOS_BUS__URL, ...)"));
    warnings.length = 0;
    read({ UMOS_BUS__URL: "amqp://new" }, file);
    expect(warnings).toEqual([]);
  });

  test("the result is frozen", () => {
    const config = resolve({});
    expect(Object.isFrozen(config.bus)).toBe(true);
  });

  test("every bad key is reported at once, each naming the key and where it came from", () => {
    try {
      resolve({ UMOS_BUS__PREFETCH: "lots", UMOS_API__PORT: "99999" }, { ...file, postgres: {} });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as ConfigError).problems;
      expect(lines).toContain("config key bus.prefetch: Expected integer (from UMOS_BUS__PREFETCH)");
      expect(lines.some((l) => l.startsWith("config key api.port:") && l.endsWith("(from UMOS_API__PORT)"))).toBe(true);
      expect(lines.some((l) => l.startsWith("config key postgres.url:") && l.includes("config.test.yaml"))).toBe(true);
    }
  });

  test("an unknown key is refused rather than ignored", () => {
    expect(() => resolve({ UMOS_RABBITMQ__URLL: "amqp://typo" })).toThrow(ConfigError);
  });

  test("the shipped dev and prod files are valid", async () => {
    for (const name of ["dev", "prod"]) {
      const parsed = Bun.YAML.parse(await Bun.file(`${import.meta.dir}/../../../configs/config.${name}.yaml`).text());
      expect(() => resolveConfig(UmosConfigSchema, { file: parsed, fileName: name, env: {}, prefix: "UMOS" })).not.toThrow();
    }
  });
});

describe("one configuration per service", () => {
  test("an edge gateway needs no PostgreSQL URL, where the whole configuration does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "umos-config-"));
    const edge = join(dir, "edge.yaml");
    await Bun.write(edge, "bus:\n  url: amqp://broker\nmqtt:\n  url: mqtt://broker\n");
    try {
      const gateway = await loadConfig(["bun", "iot-gateway", "--config", edge], {}, "iot-gateway");
      expect(gateway.mqtt.url).toBe("mqtt://broker");
      expect((gateway as Record<string, unknown>).postgres).toBeUndefined();
      await expect(loadConfig(["bun", "all", "--config", edge], {})).rejects.toThrow("config key postgres");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a service takes its own sections of a shared file and passes over the others'; an unknown key is still refused", () => {
    const shared = { ...file, uplink: { batchSize: 64 }, gateway: { connections: 2 }, api: { port: 9000 } };
    const gateway = resolveConfig(serviceSchema("iot-gateway"), {
      file: shared,
      fileName: "shared.yaml",
      env: { UMOS_API__PORT: "not a port" },
      prefix: "UMOS",
      ignore: Object.keys(UmosConfigSchema.properties).filter((k) => !(SERVICE_SECTIONS["iot-gateway"] as readonly string[]).includes(k)),
    }) as Record<string, unknown>;
    expect(Object.keys(gateway).sort()).toEqual([...SERVICE_SECTIONS["iot-gateway"]].filter((k) => k !== "allowedHosts").sort());
    expect((gateway.gateway as { connections: number }).connections).toBe(2);
    const ignore = Object.keys(UmosConfigSchema.properties).filter((k) => !(SERVICE_SECTIONS["iot-gateway"] as readonly string[]).includes(k));
    expect(() =>
      resolveConfig(serviceSchema("iot-gateway"), { file: { ...shared, gatway: {} }, fileName: "typo.yaml", env: {}, prefix: "UMOS", ignore }),
    ).toThrow("config key gatway");
  });
});

describe("listeners", () => {
  test("every listener binds loopback unless configured otherwise", () => {
    const config = resolve({});
    expect([config.api.host, config.ws.host, config.uplink.host, config.downlink.host, config.gateway.host, config.rules.host]).toEqual(
      Array(6).fill("127.0.0.1"),
    );
  });

  test("a token-checking listener beyond loopback is refused with the development secret or with authentication off, in every mode", () => {
    const exposed = { UMOS_API__HOST: "0.0.0.0", UMOS_WS__HOST: "192.168.1.5" };
    expect(listenerProblems(resolve({ ...exposed, UMOS_AUTH__SECRET: DEV_JWT_SECRET })).map((p) => p.split(":")[0])).toEqual([
      "config key api.host",
      "config key ws.host",
    ]);
    expect(listenerProblems(resolve({ ...exposed, UMOS_AUTH__SECRET: DEV_JWT_SECRET }), "iot-ws")[0]).toBe(
      "config key ws.host: refusing to listen on 192.168.1.5 while tokens are signed with the development secret, which is public; set UMOS_AUTH__SECRET to a secret of your own, or listen on 127.0.0.1",
    );
    expect(listenerProblems(resolve({ ...exposed, UMOS_AUTH__SECRET: "a-secret-of-our-own-0123456789abcdef", UMOS_AUTH__ENABLED: "false" }))[0]).toContain(
      "authentication is off",
    );
    expect(listenerProblems(resolve({ ...exposed, UMOS_AUTH__SECRET: "a-secret-of-our-own-0123456789abcdef" }))).toEqual([]);
    // A service that checks no token may face the network whatever the secret (a gateway's health port).
    expect(listenerProblems(resolve({ UMOS_GATEWAY__HOST: "0.0.0.0", UMOS_AUTH__SECRET: DEV_JWT_SECRET }), "iot-gateway")).toEqual([]);
  });

  test("an empty gateway account name or password is refused at start-up", () => {
    expect(() => resolve({ UMOS_MQTT__PASSWORD: "" })).toThrow("config key mqtt.password");
    expect(() => resolve({ UMOS_MQTT__USERNAME: "" })).toThrow("config key mqtt.username");
  });
});

describe("production", () => {
  const prod = (env: Record<string, string>) => resolve({ UMOS_ENV: "prod", ...env });
  const secure = {
    UMOS_AUTH__SECRET: "a-production-secret-of-at-least-32-chars",
    UMOS_AUTH__WEBHOOK_TOKEN: "a-webhook-token-of-the-broker",
    UMOS_API__TLS__CERT_FILE: "/tls/crt",
    UMOS_API__TLS__KEY_FILE: "/tls/key",
    UMOS_WS__TLS__CERT_FILE: "/tls/crt",
    UMOS_WS__TLS__KEY_FILE: "/tls/key",
  };

  test("a production configuration with its own secret and TLS on both external listeners passes", () => {
    expect(productionProblems(prod(secure))).toEqual([]);
  });

  test("the development secret, or none, is refused in production", () => {
    expect(productionProblems(prod({ ...secure, UMOS_AUTH__SECRET: DEV_JWT_SECRET }))).toEqual([
      "config key auth.secret: set a secret of your own through UMOS_AUTH__SECRET (the development secret is refused in production)",
    ]);
    const { UMOS_AUTH__SECRET: _secret, ...noSecret } = secure;
    expect(productionProblems(prod(noSecret))[0]).toStartWith("config key auth.secret:");
  });

  test("plain external listeners are refused in production unless a TLS proxy in front says so", () => {
    const keys = { UMOS_AUTH__SECRET: secure.UMOS_AUTH__SECRET, UMOS_AUTH__WEBHOOK_TOKEN: secure.UMOS_AUTH__WEBHOOK_TOKEN };
    expect(productionProblems(prod(keys)).map((p) => p.split(":")[0])).toEqual(["config key api.tls", "config key ws.tls"]);
    expect(productionProblems(prod({ ...keys, UMOS_TLS_OFFLOADED: "true" }))).toEqual([]);
  });

  test("the broker webhook is never open in production: iot-api needs its token", () => {
    const { UMOS_AUTH__WEBHOOK_TOKEN: _token, ...open } = secure;
    expect(productionProblems(prod(open), "iot-api").map((p) => p.split(":")[0])).toEqual(["config key auth.webhookToken"]);
    expect(productionProblems(prod(open), "iot-ws")).toEqual([]);
  });

  test("a service is held only to the rules of what it runs: an edge gateway needs no JWT secret or HTTP TLS", () => {
    const gateway = prod({});
    expect(productionProblems(gateway, "iot-gateway")).toEqual([]);
    expect(productionProblems(gateway, "iot-ws").map((p) => p.split(":")[0])).toEqual(["config key auth.secret", "config key ws.tls"]);
  });

  test("loading the shipped production file without secrets from the environment stops with the keys to set", async () => {
    const err = await loadConfig([], { UMOS_ENV: "prod" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toStartWith("config key auth.secret:");
  });
});
