import { Type as T, type TObject } from "@sinclair/typebox";
import { UmosConfigSchema, type UmosConfig } from "./umos-config";

/** What every service reads: who it is, its logs and traces, its bus, the listeners' common rules. */
const COMMON = ["env", "instance", "shutdownTimeoutMs", "log", "bus", "tracing", "allowedHosts", "tlsOffloaded"] as const;

/**
 * The sections each service reads (docs/configuration.md): a service is configured, validated and
 * typed with its own alone. A shared file may hold every service's sections; each takes its own, so
 * an edge gateway needs no PostgreSQL URL and iot-ws no time-series server. Standalone runs all five
 * on the whole UmosConfig.
 */
export const SERVICE_SECTIONS = {
  "iot-api": [...COMMON, "api", "ws", "auth", "postgres", "mqtt", "commands", "timeseries", "influx", "retention", "notifications", "firmware"],
  "iot-ws": [...COMMON, "ws", "auth", "presence"],
  "iot-uplink": [...COMMON, "uplink", "postgres", "presence", "timeseries", "influx", "retention"],
  "iot-downlink": [...COMMON, "downlink", "postgres", "firmware", "auth"],
  "iot-gateway": [...COMMON, "gateway", "mqtt", "presence"],
  "iot-rules": [...COMMON, "rules", "notifications", "postgres"],
} as const;

export type ServiceName = keyof typeof SERVICE_SECTIONS;
/** What every service's configuration holds. */
export type CommonConfig = Pick<UmosConfig, (typeof COMMON)[number]>;
export type ServiceConfig<S extends ServiceName> = CommonConfig & Pick<UmosConfig, (typeof SERVICE_SECTIONS)[S][number]>;
export type ApiConfig = ServiceConfig<"iot-api">;
export type WsConfig = ServiceConfig<"iot-ws">;
export type UplinkConfig = ServiceConfig<"iot-uplink">;
export type DownlinkConfig = ServiceConfig<"iot-downlink">;
export type GatewayConfig = ServiceConfig<"iot-gateway">;
export type RulesConfig = ServiceConfig<"iot-rules">;

export function isServiceName(name: string | undefined): name is ServiceName {
  return name !== undefined && Object.hasOwn(SERVICE_SECTIONS, name);
}

/** One service's schema: the sections it reads, nothing it does not. */
export function serviceSchema(service: ServiceName): TObject {
  const sections: readonly (keyof UmosConfig)[] = SERVICE_SECTIONS[service];
  return T.Pick(UmosConfigSchema, sections as (keyof UmosConfig)[], { additionalProperties: false });
}
