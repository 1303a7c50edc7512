import { describe, expect, test } from "bun:test";
import { ConfigError, envKeyToPath, resolveConfig, UmosConfigSchema } from "./index";

const file = {
  rabbitmq: { url: "amqp://localhost" },
  mqtt: { url: "mqtt://localhost" },
  postgres: { url: "postgres://localhost/umos" },
};
const resolve = (env: Record<string, string>, f: unknown = file) => resolveConfig(UmosConfigSchema, { file: f, fileName: "config.test.yaml", env, prefix: "UMOS" });

describe("configuration", () => {
  test("environment keys map to nested camelCase paths", () => {
    expect(envKeyToPath("RABBITMQ__URL")).toEqual(["rabbitmq", "url"]);
    expect(envKeyToPath("UPLINK__BATCH_WAIT_MS")).toEqual(["uplink", "batchWaitMs"]);
  });

  test("defaults fill what the file leaves out; the environment wins over the file and is coerced", () => {
    const config = resolve({ UMOS_UPLINK__BATCH_SIZE: "64", UMOS_MQTT__SHARED_SUBSCRIPTIONS: "false", UMOS_RABBITMQ__URL: "amqp://broker" });
    expect(config.uplink.batchSize).toBe(64);
    expect(config.mqtt.sharedSubscriptions).toBe(false);
    expect(config.rabbitmq.url).toBe("amqp://broker");
    expect(config.api.port).toBe(8080);
    expect(config.rabbitmq.queueType).toBe("classic");
  });

  test("the result is frozen", () => {
    const config = resolve({});
    expect(Object.isFrozen(config.rabbitmq)).toBe(true);
  });

  test("every bad key is reported at once, each naming the key and where it came from", () => {
    try {
      resolve({ UMOS_RABBITMQ__PREFETCH: "lots", UMOS_API__PORT: "99999" }, { ...file, postgres: {} });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as ConfigError).problems;
      expect(lines).toContain("config key rabbitmq.prefetch: Expected integer (from UMOS_RABBITMQ__PREFETCH)");
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
