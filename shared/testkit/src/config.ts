import { resolveConfig, UmosConfigSchema, type UmosConfig } from "@umos/config";

export interface TestEndpoints {
  rabbitmqUrl: string;
  mqttUrl?: string;
  postgresUrl?: string;
}

/** Environment overrides that point a service process at the test's own brokers, on free ports. */
export function testEnv(endpoints: TestEndpoints, extra: Record<string, string> = {}): Record<string, string> {
  return {
    UMOS_ENV: "dev",
    UMOS_INSTANCE: `t${Math.random().toString(36).slice(2, 8)}`,
    UMOS_LOG__LEVEL: "warn",
    UMOS_RABBITMQ__URL: endpoints.rabbitmqUrl,
    UMOS_RABBITMQ__RECONNECT_INITIAL_MS: "50",
    UMOS_MQTT__URL: endpoints.mqttUrl ?? "mqtt://127.0.0.1:1",
    UMOS_MQTT__RECONNECT_INITIAL_MS: "50",
    UMOS_POSTGRES__URL: endpoints.postgresUrl ?? "postgres://127.0.0.1:1/none",
    UMOS_API__PORT: "0",
    UMOS_WS__PORT: "0",
    UMOS_UPLINK__PORT: "0",
    UMOS_DOWNLINK__PORT: "0",
    UMOS_GATEWAY__PORT: "0",
    ...extra,
  };
}

/** The same as a config object, for services created in-process with createApp. */
export function testConfig(endpoints: TestEndpoints, extra: Record<string, string> = {}): UmosConfig {
  return resolveConfig(UmosConfigSchema, { file: {}, fileName: "test", env: testEnv(endpoints, extra), prefix: "UMOS" });
}
