import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { ConfigError, configDir, DEV_JWT_SECRET } from "@umos/config";
import { STANDALONE_DEFAULTS, standaloneSettings } from "./standalone-config";

/** Stands in for the data directory's secret file, which the tests leave alone. */
const LOCAL_SECRET = "a-secret-of-this-data-directory-0123456789";
const localSecret = () => LOCAL_SECRET;

const settingsOf = async (argv: string[], env: Record<string, string> = {}) => {
  const parsed = await standaloneSettings(argv, env, localSecret);
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.settings;
};

describe("the standalone configuration", () => {
  test("configs/config.standalone.yaml and the defaults a built binary falls back on are the same", async () => {
    const file = Bun.YAML.parse(await Bun.file(resolve(configDir!, "config.standalone.yaml")).text());
    expect(file).toEqual(STANDALONE_DEFAULTS);
  });

  test("by default: data in ./data, the embedded bus there, MQTT 3.1.1 without $share, the data directory's own secret, loopback only", async () => {
    const { dataDir, config, embeddedBus, mqtt, postgres } = await settingsOf([]);
    expect(dataDir).toBe(resolve("./data"));
    expect(embeddedBus).toBe(true);
    expect(config.bus.url).toBe(`embedded:${resolve("./data/bus.sqlite")}`);
    expect(config.env).toBe("dev");
    expect(config.auth.enabled).toBe(true);
    expect(config.auth.secret).toBe(LOCAL_SECRET);
    expect(config.mqtt.protocolVersion).toBe(4);
    expect(config.mqtt.sharedSubscriptions).toBe(false);
    expect(config.mqtt.password).toBeString();
    expect(mqtt).toEqual({ host: "127.0.0.1", port: 1883 });
    expect(postgres).toEqual({ host: "127.0.0.1", port: 5433 });
    expect([config.api.host, config.ws.host, config.uplink.host, config.downlink.host, config.gateway.host, config.rules.host]).toEqual(
      Array(6).fill("127.0.0.1"),
    );
  });

  test("--host opens every listener, --mqtt-host the broker alone; a secret of the operator's own is kept", async () => {
    const open = await settingsOf(["--host", "0.0.0.0"], { UMOS_AUTH__SECRET: "the-operators-own-secret-0123456789abcdef" });
    expect([open.config.api.host, open.config.ws.host, open.config.gateway.host, open.config.rules.host, open.mqtt.host]).toEqual(Array(5).fill("0.0.0.0"));
    expect(open.config.auth.secret).toBe("the-operators-own-secret-0123456789abcdef");
    const devices = await settingsOf(["--mqtt-host", "0.0.0.0"]);
    expect([devices.config.api.host, devices.mqtt.host]).toEqual(["127.0.0.1", "0.0.0.0"]);
  });

  test("the public development secret is replaced by the data directory's own, and refused beyond loopback", async () => {
    expect((await settingsOf([], { UMOS_AUTH__SECRET: DEV_JWT_SECRET })).config.auth.secret).toBe(LOCAL_SECRET);
    const weak = standaloneSettings(["--host", "0.0.0.0"], {}, () => DEV_JWT_SECRET);
    await expect(weak).rejects.toThrow("config key api.host: refusing to listen on 0.0.0.0 while tokens are signed with the development secret");
    await expect(settingsOf(["--host", "0.0.0.0"], { UMOS_AUTH__ENABLED: "false" })).rejects.toThrow("while authentication is off");
    await expect(settingsOf([], { UMOS_POSTGRES__URL: "postgres://postgres@0.0.0.0:5433/postgres" })).rejects.toThrow("listens on loopback only");
  });

  test("flags move the data directory and every port; flags win over UMOS_* variables, which win over the file", async () => {
    const { dataDir, config, mqtt, postgres } = await settingsOf(
      [
        "--data-dir",
        "/tmp/x",
        "--api-port",
        "9000",
        "--ws-port",
        "9001",
        "--mqtt-port",
        "9002",
        "--postgres-port",
        "9003",
        "--gateway-port",
        "9004",
        "--rules-port",
        "9005",
      ],
      { UMOS_API__PORT: "7000", UMOS_UPLINK__PORT: "7001", UMOS_LOG__LEVEL: "warn" },
    );
    expect(dataDir).toBe("/tmp/x");
    expect(config.bus.url).toBe("embedded:/tmp/x/bus.sqlite");
    expect([config.api.port, config.ws.port, config.uplink.port, config.gateway.port, config.rules.port]).toEqual([9000, 9001, 7001, 9004, 9005]);
    expect(config.log.level).toBe("warn");
    expect(config.mqtt.url).toBe("mqtt://127.0.0.1:9002");
    expect(mqtt.port).toBe(9002);
    expect(postgres.port).toBe(9003);
    expect(config.postgres.url).toBe("postgres://postgres@127.0.0.1:9003/postgres");
  });

  test("a RabbitMQ named in the environment replaces the embedded bus", async () => {
    const { config, embeddedBus } = await settingsOf([], { UMOS_BUS__URL: "amqp://guest:guest@127.0.0.1:5672/" });
    expect(embeddedBus).toBe(false);
    expect(config.bus.url).toBe("amqp://guest:guest@127.0.0.1:5672/");
  });

  test("an unknown flag or a port that is not one is refused with a line naming it", async () => {
    await expect(standaloneSettings(["--api-prot", "1"], {}, localSecret)).rejects.toThrow(ConfigError);
    await expect(standaloneSettings(["--api-port", "http"], {}, localSecret)).rejects.toThrow("--api-port: expected a port number, got 'http'");
    await expect(standaloneSettings([], { UMOS_WS__PORT: "x" }, localSecret)).rejects.toThrow("config key ws.port");
  });

  test("--help asks for the usage", async () => {
    expect(await standaloneSettings(["--help"], {}, localSecret)).toEqual({ help: true });
  });
});

test("UMOS_ENV=prod holds standalone mode to production's rules", async () => {
  await expect(standaloneSettings([], { UMOS_ENV: "prod" }, localSecret)).rejects.toThrow("config key api.tls");
});
