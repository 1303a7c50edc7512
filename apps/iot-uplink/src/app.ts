import { connectServiceBus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import { serveHealth, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { deviceRepository, openMigratedDatabase, thingModelRepository, writeBatch, type LogEntry } from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { createBatcher } from "./batcher";
import { createDeviceDirectory } from "./device-directory";
import { startPresenceSweep } from "./presence";
import { createUplinkProcessor } from "./processor";
import { startTelemetryConsumer } from "./telemetry/telemetry-consumer";

/** iot-uplink: decodes, checks and stores device frames and republishes them normalized. */
export function createApp(config: UmosConfig, { log }: AppDeps): App {
  return serviceApp(log, config.uplink.port, async (resources) => {
    const db = resources.use(await openMigratedDatabase(config.postgres, log), (d) => d.close());
    const bus = resources.use(await connectServiceBus(config.rabbitmq, "iot-uplink", config.instance, log), (b) => b.close());
    const sql = db.sql;
    const devices = deviceRepository(sql);
    const thingModels = thingModelRepository(sql);
    const directory = createDeviceDirectory(devices);
    const store = createBatcher((entries: LogEntry[]) => writeBatch(sql, entries), { maxSize: config.uplink.batchSize, maxWaitMs: config.uplink.batchWaitMs });
    const processFrame = createUplinkProcessor({
      publisher: bus,
      directory,
      models: createModelCache((id, version) => thingModels.get(id, version)),
      store,
      applyTopology: (gatewayId, subDevices) => devices.applyTopology(gatewayId, subDevices),
      maxFrameBytes: config.uplink.maxFrameBytes,
      dedupeWindowMs: config.uplink.dedupeWindowMs,
    });
    resources.use(startPresenceSweep(devices, bus, { silenceMs: config.presence.silenceMs, intervalMs: config.presence.sweepIntervalMs }, log), (s) => s.stop());
    const { url: influxUrl } = config.influx;
    if (influxUrl) {
      const modelOf = async (deviceId: string) => (await directory.route(deviceId))?.model?.id ?? null;
      resources.use(await startTelemetryConsumer({ ...config.influx, url: influxUrl }, bus, modelOf, log.child("telemetry")), (t) => t.stop());
    } else log.info("telemetry off: set influx.url (UMOS_INFLUX__URL) to write reports to InfluxDB");
    resources.use(await bus.consume({ queue: QUEUES.uplink }, processFrame), (c) => c.stop());
    const server = resources.use(serveHealth({ port: config.uplink.port, probes: [bus.probe, db.probe] }), (s) => s.stop(true));
    log.info("iot-uplink ready", { port: server.port });
    return server.port!;
  });
}
