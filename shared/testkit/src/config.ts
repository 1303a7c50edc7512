import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createObservability } from "@umos/observability";
import { silentLogger, systemClock, type Clock, type Logger } from "@umos/core";
import type { AppDeps } from "@umos/runtime";
import { mintToken, type Role } from "@umos/auth";
import { resolveConfig, UmosConfigSchema, type UmosConfig } from "@umos/config";

/** The HS256 secret every test platform verifies tokens with. */
export const TEST_JWT_SECRET = "umos-test-secret-0123456789abcdef0123";

/** A token the test platform accepts, for the given role. */
export function testToken(role: Role = "admin", overrides: { ttlSec?: number; audience?: string; secret?: string } = {}): Promise<string> {
  return mintToken({
    secret: overrides.secret ?? TEST_JWT_SECRET,
    issuer: "umos",
    audience: overrides.audience ?? "umos-api",
    role,
    subject: `test-${role}`,
    ttlSec: overrides.ttlSec,
  });
}

export interface TestEndpoints {
  busUrl: string;
  mqttUrl?: string;
  postgresUrl?: string;
}

/** Environment overrides that point a service process at the test's own brokers, on free ports. */
export function testEnv(endpoints: TestEndpoints, extra: Record<string, string> = {}): Record<string, string> {
  return {
    UMOS_ENV: "dev",
    UMOS_INSTANCE: `t${Math.random().toString(36).slice(2, 8)}`,
    UMOS_LOG__LEVEL: "warn",
    UMOS_BUS__URL: endpoints.busUrl,
    UMOS_BUS__RECONNECT_INITIAL_MS: "50",
    UMOS_MQTT__URL: endpoints.mqttUrl ?? "mqtt://127.0.0.1:1",
    UMOS_MQTT__RECONNECT_INITIAL_MS: "50",
    UMOS_POSTGRES__URL: endpoints.postgresUrl ?? "postgres://127.0.0.1:1/none",
    UMOS_API__PORT: "0",
    UMOS_WS__PORT: "0",
    UMOS_UPLINK__PORT: "0",
    UMOS_DOWNLINK__PORT: "0",
    UMOS_GATEWAY__PORT: "0",
    UMOS_AUTH__SECRET: TEST_JWT_SECRET,
    // Never the checkout's data/firmware: a test that uploads gives a directory of its own.
    UMOS_FIRMWARE__DIR: join(tmpdir(), "umos-test-firmware"),
    ...extra,
  };
}

/** The same as a config object, for services created in-process with createApp. */
export function testConfig(endpoints: TestEndpoints, extra: Record<string, string> = {}): UmosConfig {
  return resolveConfig(UmosConfigSchema, { file: {}, fileName: "test", env: testEnv(endpoints, extra), prefix: "UMOS" });
}

export interface TestDepsOptions {
  log?: Logger;
  exporter?: SpanExporter;
  clock?: Clock;
}

/** What createApp needs besides its config, for a service started inside a test process. */
export function testDeps(service: string, { log = silentLogger, exporter, clock = systemClock }: TestDepsOptions = {}): AppDeps {
  return { log, obs: createObservability(service, { sampleRatio: 1, exporter }), clock };
}
