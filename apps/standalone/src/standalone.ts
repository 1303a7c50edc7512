import { mkdirSync } from "node:fs";
import type { UmosConfig } from "@umos/config";
import { connectBus, shareBus, type Bus } from "@umos/bus";
import type { Logger } from "@umos/core";
import { createApp as createApi, type ApiParts } from "@umos/iot-api/app";
import { createApp as createDownlink } from "@umos/iot-downlink/app";
import { createApp as createGateway } from "@umos/iot-gateway/app";
import { createApp as createRules } from "@umos/iot-rules/app";
import { createApp as createUplink } from "@umos/iot-uplink/app";
import { createApp as createWs } from "@umos/iot-ws/app";
import { createMqttAuth } from "@umos/mqtt-access";
import { resourceStack, serviceDeps, type App, type Service } from "@umos/runtime";
import { credentialRepository, openMigratedDatabase, type Database } from "@umos/store";
import { writeSnapshot } from "./backup";
import { serveControl } from "./control";
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

/** What standalone hands every service: one database, one bus, the embedded broker's sessions. */
type SharedParts = ApiParts & { bus: Bus; db: Database };

/**
 * The six services, in the order they start; they stop in reverse, the gateway (the MQTT side) first.
 * iot-rules declares its queue before the gateway lets the first device event in.
 */
const SERVICES: ReadonlyArray<readonly [string, (config: UmosConfig, parts: SharedParts) => App]> = [
  ["iot-api", createApi],
  ["iot-uplink", createUplink],
  ["iot-downlink", createDownlink],
  ["iot-ws", createWs],
  ["iot-rules", createRules],
  ["iot-gateway", createGateway],
];

/**
 * All of UMOS in one process, a composition root of its own: it opens the embedded PostgreSQL, the
 * bus (whatever bus.url names; `embedded:<file>` by default) and the embedded MQTT broker once, and
 * puts the six services together on them, each exactly as its own process would run it.
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
        const postgres = resources.use(
          await startEmbeddedPostgres({ dataDir: layout.postgres, ...settings.postgres, log: log.child("postgres") }),
          (pg) => pg.close(),
          "postgres",
        );
        // Opened once, migrated once and shared: by the broker's login checks and by the six services,
        // with the connections each would have had on its own (PGlite runs one statement at a time anyway).
        const poolSize = config.postgres.maxConnections * SERVICES.length;
        const db = resources.use(
          await openMigratedDatabase({ ...config.postgres, maxConnections: poolSize }, log.child("postgres")),
          (d) => d.close(),
          "database",
        );
        const bus = resources.use(await connectBus({ ...config.bus, name: `standalone@${config.instance}`, log: log.child("bus") }), (b) => b.close(), "bus");
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
          const deps = serviceDeps(name, config);
          // Each service counts and traces its own traffic on the shared bus; iot-api cuts a device's
          // live session when its credentials change, it is removed or moved to another gateway.
          const app = create(config, { ...deps, db, bus: shareBus(bus, config.bus.url, deps.obs), sessions: broker });
          await app.start();
          resources.use(app, (started) => started.stop(), name);
          ports[name] = app.port;
        }
        const snapshot = (out: string) =>
          writeSnapshot({ postgres: () => postgres.dump(), bus: settings.embeddedBus ? layout.bus : null, mqtt: layout.mqtt, dataDir: settings.dataDir }, out);
        resources.use(serveControl(layout.control, snapshot, log.child("control")), (s) => s.stop(true), "the control socket");
      } catch (err) {
        await resources.closeAll();
        throw err;
      }
    },
    stop: () => resources.closeAll(),
  };
}
