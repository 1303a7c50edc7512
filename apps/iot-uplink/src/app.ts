import { connectBus, type Bus, type Consumer } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import { serveHealth, type Logger, type Service } from "@umos/runtime";
import { deviceRepository, migrate, openDatabase, writeBatch, type Database } from "@umos/store";
import { createBatcher } from "./batcher";
import { createDeviceDirectory } from "./device-directory";
import { createUplinkProcessor } from "./processor";

export interface UplinkDeps {
  log: Logger;
}

export interface UplinkApp extends Service {
  readonly port: number;
}

/** iot-uplink: decodes, checks and stores device frames and republishes them normalized. */
export function createApp(config: UmosConfig, deps: UplinkDeps): UplinkApp {
  const { log } = deps;
  let db: Database | undefined;
  let bus: Bus | undefined;
  let consumer: Consumer | undefined;
  let server: ReturnType<typeof serveHealth> | undefined;

  return {
    get port() {
      return server?.port ?? config.uplink.port;
    },

    async start() {
      db = openDatabase(config.postgres);
      await migrate(db.sql, log);
      bus = await connectBus({ ...config.rabbitmq, name: `iot-uplink@${config.instance}`, log: log.child("bus") });
      const sql = db.sql;
      const processFrame = createUplinkProcessor({
        publisher: bus,
        directory: createDeviceDirectory(deviceRepository(sql)),
        store: createBatcher((entries) => writeBatch(sql, entries), { maxSize: config.uplink.batchSize, maxWaitMs: config.uplink.batchWaitMs }),
        maxFrameBytes: config.uplink.maxFrameBytes,
        dedupeWindowMs: config.uplink.dedupeWindowMs,
      });
      consumer = await bus.consume({ queue: QUEUES.uplink }, processFrame);
      server = serveHealth({ port: config.uplink.port, probes: [bus.probe, db.probe] });
      log.info("iot-uplink ready", { port: server.port });
    },

    async stop() {
      server?.stop(true);
      await consumer?.stop();
      await bus?.close();
      await db?.close();
    },
  };
}
