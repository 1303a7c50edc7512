import { mkdirSync } from "node:fs";
import type { UmosConfig } from "@umos/config";
import { createApp as createApi, type ApiParts } from "@umos/iot-api/src/app";
import { createMqttAuth } from "@umos/iot-api/src/mqtt-auth";
import { createApp as createDownlink } from "@umos/iot-downlink/src/app";
import { createApp as createGateway } from "@umos/iot-gateway/src/app";
import { createApp as createUplink } from "@umos/iot-uplink/src/app";
import { createApp as createWs } from "@umos/iot-ws/src/app";
import { type Logger } from "@umos/core";
import { resourceStack, serviceDeps, type App, type AppDeps, type Service } from "@umos/runtime";
import { credentialRepository, openMigratedDatabase } from "@umos/store";
import { dataLayout } from "./data-dir";
import { brokerAuthHooks } from "./mqtt/broker-auth";
import { startEmbeddedBroker } from "./mqtt/embedded-broker";
import { startEmbeddedPostgres } from "./postgres/embedded-postgres";
import type { StandaloneSettings } from "./standalone-config";

/** A new MQTT connection must log in within this time. */
const LOGIN_TIMEOUT_MS = 10_000;
/** A CONNECT (client id, credentials and a will) needs no more; nothing larger is read from a stranger. */
const MAX_CONNECT_BYTES = 65_536;
/** Room for a PUBLISH's topic and properties beside the largest payload the gateway relays (gateway.maxPayloadBytes). */
const PACKET_OVERHEAD_BYTES = 65_536;

/** The five services, in the order they start; they stop in reverse, the gateway (the MQTT side) first. */
const SERVICES: ReadonlyArray<readonly [string, (config: UmosConfig, deps: AppDeps & ApiParts) => App]> = [
  ["iot-api", createApi],
  ["iot-uplink", createUplink],
  ["iot-downlink", createDownlink],
  ["iot-ws", createWs],
  ["iot-gateway", createGateway],
];

/**
 * All of UMOS in one process: the embedded PostgreSQL, the embedded MQTT broker, then the five
 * services exactly as their own processes would run them, on one configuration. The bus is whatever
 * rabbitmq.url names (`embedded:<file>`: one in-process broker shared by the five).
 */
export interface Standalone extends Service {
  /** The ports each service bound once started (a configured 0 becomes a real port). */
  readonly ports: Readonly<Record<string, number>>;
}

export function createStandalone(settings: StandaloneSettings, log: Logger): Standalone {
  const { config } = settings;
  const layout = dataLayout(settings.dataDir);
  const resources = resourceStack(log);
  const ports: Record<string, number> = {};

  return {
    ports,
    async start() {
      try {
        mkdirSync(settings.dataDir, { recursive: true });
        resources.use(await startEmbeddedPostgres({ dataDir: layout.postgres, ...settings.postgres, log: log.child("postgres") }), (pg) => pg.close(), "postgres");
        // Migrated here once, before the services, which then find the schema in place; the broker checks logins on it.
        const db = resources.use(await openMigratedDatabase({ url: config.postgres.url, maxConnections: 1 }, log.child("postgres")), (d) => d.close(), "broker logins");
        const auth = createMqttAuth(credentialRepository(db.sql), config.mqtt);
        const broker = resources.use(
          await startEmbeddedBroker({
            ...settings.mqtt,
            persistencePath: layout.mqtt,
            auth: brokerAuthHooks(auth, log.child("mqtt")),
            loginTimeoutMs: LOGIN_TIMEOUT_MS,
            packetLimits: { beforeLogin: MAX_CONNECT_BYTES, afterLogin: config.gateway.maxPayloadBytes + PACKET_OVERHEAD_BYTES },
            log: log.child("mqtt"),
          }),
          (b) => b.close(),
          "MQTT broker",
        );
        for (const [name, create] of SERVICES) {
          // iot-api cuts a device's live session when its credentials change or it is removed.
          const app = create(config, { ...serviceDeps(name, config), sessions: broker });
          await app.start();
          resources.use(app, (started) => started.stop(), name);
          ports[name] = app.port;
        }
      } catch (err) {
        await resources.closeAll();
        throw err;
      }
    },
    stop: () => resources.closeAll(),
  };
}
