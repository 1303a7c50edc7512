import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { ConfigError, configDir } from "@umos/config";
import { STANDALONE_DEFAULTS, standaloneSettings } from "./standalone-config";

const settingsOf = async (argv: string[], env: Record<string, string> = {}) => {
  const parsed = await standaloneSettings(argv, env);
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.settings;
};

describe("the standalone configuration", () => {
  test("configs/config.standalone.yaml and the defaults a built binary falls back on are the same", async () => {
    const file = Bun.YAML.parse(await Bun.file(resolve(configDir!, "config.standalone.yaml")).text());
    expect(file).toEqual(STANDALONE_DEFAULTS);
  });

  test("by default: data in ./data, the embedded bus there, MQTT 3.1.1 without $share, the development secret", async () => {
    const { dataDir, config, embeddedBus, mqtt, postgres } = await settingsOf([]);
    expect(dataDir).toBe(resolve("./data"));
    expect(embeddedBus).toBe(true);
    expect(config.rabbitmq.url).toBe(`embedded:${resolve("./data/bus.sqlite")}`);
    expect(config.env).toBe("dev");
    expect(config.auth.enabled).toBe(true);
    expect(config.auth.secret).toBe("umos-development-secret-not-for-production");
    expect(config.mqtt.protocolVersion).toBe(4);
    expect(config.mqtt.sharedSubscriptions).toBe(false);
    expect(config.mqtt.password).toBeString();
    expect(mqtt).toEqual({ host: "0.0.0.0", port: 1883 });
    expect(postgres).toEqual({ host: "127.0.0.1", port: 5433 });
  });

  test("flags move the data directory and every port; flags win over UMOS_* variables, which win over the file", async () => {
    const { dataDir, config, mqtt, postgres } = await settingsOf(
      ["--data-dir", "/tmp/x", "--api-port", "9000", "--ws-port", "9001", "--mqtt-port", "9002", "--postgres-port", "9003", "--gateway-port", "9004"],
      { UMOS_API__PORT: "7000", UMOS_UPLINK__PORT: "7001", UMOS_LOG__LEVEL: "warn" },
    );
    expect(dataDir).toBe("/tmp/x");
    expect(config.rabbitmq.url).toBe("embedded:/tmp/x/bus.sqlite");
    expect([config.api.port, config.ws.port, config.uplink.port, config.gateway.port]).toEqual([9000, 9001, 7001, 9004]);
    expect(config.log.level).toBe("warn");
    expect(config.mqtt.url).toBe("mqtt://127.0.0.1:9002");
    expect(mqtt.port).toBe(9002);
    expect(postgres.port).toBe(9003);
    expect(config.postgres.url).toBe("postgres://postgres@127.0.0.1:9003/postgres");
  });

  test("a RabbitMQ named in the environment replaces the embedded bus", async () => {
    const { config, embeddedBus } = await settingsOf([], { UMOS_RABBITMQ__URL: "amqp://guest:guest@127.0.0.1:5672/" });
    expect(embeddedBus).toBe(false);
    expect(config.rabbitmq.url).toBe("amqp://guest:guest@127.0.0.1:5672/");
  });

  test("an unknown flag or a port that is not one is refused with a line naming it", async () => {
    await expect(standaloneSettings(["--api-prot", "1"], {})).rejects.toThrow(ConfigError);
    await expect(standaloneSettings(["--api-port", "http"], {})).rejects.toThrow("--api-port: expected a port number, got 'http'");
    await expect(standaloneSettings([], { UMOS_WS__PORT: "x" })).rejects.toThrow("config key ws.port");
  });

  test("--help asks for the usage", async () => {
    expect(await standaloneSettings(["--help"], {})).toEqual({ help: true });
  });
});

test("UMOS_ENV=prod holds standalone mode to production's rules", async () => {
  await expect(standaloneSettings([], { UMOS_ENV: "prod" })).rejects.toThrow("config key auth.secret");
});
