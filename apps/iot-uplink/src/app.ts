import type { Bus } from "@umos/bus";
import type { UplinkConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import { createBatcher, every } from "@umos/core";
import { serveHealth, serviceApp, type App, type AppDeps } from "@umos/runtime";
import {
  deadLetterRepository,
  deviceRepository,
  policyOf,
  retentionRepository,
  thingModelRepository,
  withOutagesAsUnavailable,
  writeBatch,
  type Database,
  type LogEntry,
} from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { openTimeSeries, rollupJob } from "@umos/timeseries";
import { startDeadLetterArchiver } from "./dead-letters/archiver";
import { startDeadLetterGauge } from "./dead-letters/gauge";
import { createDeviceDirectory } from "./device-directory";
import { startPresenceSweep } from "./presence";
import { countOutcomes } from "./outcome-metrics";
import { createUplinkProcessor } from "./processor";
import { runRetention } from "./retention";
import { startTelemetryConsumer } from "./telemetry/telemetry-consumer";

/** How often the iot_dead_letters gauge is read from the table. */
const DEAD_LETTER_GAUGE_MS = 15_000;
/** How long the writer trusts the raw telemetry's retention period it read: a change through the API reaches it within this. */
const RETENTION_CACHE_MS = 60_000;

/** What iot-uplink is put together on: the bus it consumes and publishes on, the database it writes. */
export interface UplinkParts extends AppDeps {
  bus: Bus;
  db: Database;
}

/** iot-uplink: decodes, checks and stores device frames and republishes them normalized. */
export function createApp(config: UplinkConfig, { log, obs, clock, bus, db }: UplinkParts): App {
  return serviceApp(log, config.uplink.port, async (resources) => {
    const sql = db.sql;
    const devices = deviceRepository(sql);
    const thingModels = thingModelRepository(sql);
    const directory = createDeviceDirectory(devices, { ttlMs: config.uplink.deviceCacheMs, clock });
    const store = createBatcher((entries: LogEntry[]) => writeBatch(sql, entries), {
      maxSize: config.uplink.batchSize,
      maxWaitMs: config.uplink.batchWaitMs,
      maxInFlight: config.uplink.batchesInFlight,
    });
    const processFrame = createUplinkProcessor({
      publisher: bus,
      directory,
      models: createModelCache((id, version) => thingModels.get(id, version)),
      store,
      applyTopology: (gatewayId, subDevices) => devices.applyTopology(gatewayId, subDevices),
      maxFrameBytes: config.uplink.maxFrameBytes,
      dedupeWindowMs: config.uplink.dedupeWindowMs,
      clock,
    });
    resources.use(
      startPresenceSweep(devices, { publisher: bus, clock }, { silenceMs: config.presence.silenceMs, intervalMs: config.presence.sweepIntervalMs }, log),
      (s) => s.stop(),
      "the presence sweep",
    );
    const retention = retentionRepository(sql);
    const retentionDefaults = policyOf(config.retention);
    let rawDays: { days: number | null; readAt: number } | null = null;
    const rawRetentionDays = async () => {
      if (!rawDays || clock.now() - rawDays.readAt > RETENTION_CACHE_MS)
        rawDays = { days: (await retention.policy(retentionDefaults)).telemetry, readAt: clock.now() };
      return rawDays.days;
    };
    const timeseries = openTimeSeries(config, { sql, clock, log: log.child("telemetry"), rawRetentionDays });
    if (timeseries) {
      const modelOf = async (deviceId: string) => (await directory.route(deviceId))?.model?.id ?? null;
      resources.use(
        await startTelemetryConsumer(config.timeseries, timeseries, bus, modelOf, log.child("telemetry")),
        (t) => t.stop(),
        "the telemetry consumer",
      );
    } else log.info("telemetry off: set timeseries.kind to postgres, or influx with influx.url (docs/telemetry.md)");
    if (timeseries?.kind === "postgres") {
      resources.use(every("the telemetry roll-up", config.timeseries.rollupIntervalMs, rollupJob(sql), log), (job) => job.stop(), "the roll-up job");
    }
    const removed = obs.metrics.counter("iot_retention_removed_total", "Partitions dropped and rows deleted by retention", ["kind", "reason"]);
    const retentionRun = () =>
      runRetention({
        sql,
        repo: retention,
        clock,
        log,
        defaults: retentionDefaults,
        postgresTelemetry: timeseries?.kind === "postgres",
        maxDatabaseBytes: config.retention.maxDatabaseBytes,
        removed: (kind, reason, count) => removed.inc({ kind, reason }, count),
      }).then(async () => {
        // InfluxDB expires its own points: its retention policy follows the setting.
        if (timeseries?.kind === "influx") await timeseries.applyRetention(await rawRetentionDays());
      });
    resources.use(every("retention", config.retention.intervalMs, retentionRun, log), (job) => job.stop(), "the retention job");
    obs.metrics.countDevicesActive(() => devices.countOnline());
    // A database outage is waited out, not counted against the frames (fault suite: PostgreSQL unreachable).
    resources.use(
      await bus.consume({ queue: QUEUES.uplink }, countOutcomes(withOutagesAsUnavailable(processFrame), obs.metrics)),
      (c) => c.stop(),
      "the consumer of iot-uplink-queue",
    );
    const deadLetters = deadLetterRepository(sql);
    const deadLetterGauge = resources.use(startDeadLetterGauge(obs.metrics, deadLetters, DEAD_LETTER_GAUGE_MS, log), (g) => g.stop(), "the dead-letter gauge");
    const archiveBatch = { maxSize: config.uplink.batchSize, maxWaitMs: config.uplink.batchWaitMs };
    resources.use(await startDeadLetterArchiver(bus, deadLetters, archiveBatch, deadLetterGauge.stale), (c) => c.stop(), "the dead-letter archiver");
    const server = resources.use(
      serveHealth({
        host: config.uplink.host,
        port: config.uplink.port,
        allowedHosts: config.allowedHosts,
        probes: [bus.probe, db.probe],
        metrics: obs.metrics,
      }),
      (s) => s.stop(true),
      "the HTTP server",
    );
    log.info("iot-uplink ready", { port: server.port });
    return server.port!;
  });
}
