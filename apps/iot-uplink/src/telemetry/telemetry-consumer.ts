import { readEnvelope, type Bus, type MessageHandler } from "@umos/bus";
import type { UplinkConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import type { Logger } from "@umos/core";
import { reportPoints, type TelemetryPoint, type TimeSeries } from "@umos/timeseries";
import { createPointBuffer, type PointBuffer } from "./point-buffer";

export interface TelemetryParts {
  /** The device's thing model id; null without a model or for a device deleted since it reported. */
  modelOf(deviceId: string): Promise<string | null>;
  buffer: PointBuffer<TelemetryPoint>;
}

/** One validated report off iot-telemetry-queue: its points, and the ack (by returning) once the store took them. */
export function createTelemetryHandler(parts: TelemetryParts): MessageHandler {
  return async (message) => {
    const envelope = readEnvelope(message);
    await parts.buffer.add(reportPoints(envelope, await parts.modelOf(envelope.deviceId)));
  };
}

/**
 * The telemetry writer, a consumer of its own on its own durable queue: while the time series is
 * down only iot-telemetry-queue backs up, and WebSocket push and the message log carry on.
 */
export async function startTelemetryConsumer(
  config: UplinkConfig["timeseries"],
  store: TimeSeries,
  bus: Bus,
  modelOf: TelemetryParts["modelOf"],
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const buffer = createPointBuffer(
    (points: TelemetryPoint[]) => store.write(points),
    {
      batchSize: config.batchSize,
      // Half the prefetch, so the next batch fills while one is being written.
      maxBatchMessages: Math.max(1, Math.floor(config.prefetch / 2)),
      flushIntervalMs: config.flushIntervalMs,
      maxBufferedPoints: config.maxBufferedPoints,
      retryInitialMs: config.retryInitialMs,
      retryMaxMs: config.retryMaxMs,
      maxHoldMs: config.maxHoldMs,
    },
    log,
  );
  // Never dead-lettered for an outage: the only retryable failures here are the time series' and PostgreSQL's.
  const consumer = await bus.consume(
    { queue: QUEUES.telemetry, prefetch: config.prefetch, maxAttempts: Infinity },
    createTelemetryHandler({ modelOf, buffer }),
  );
  log.info("writing telemetry", { store: store.kind });
  return {
    async stop() {
      const handedBack = buffer.close();
      await consumer.stop();
      if (handedBack > 0) log.info("telemetry writer stopped; unwritten reports wait in the queue", { handedBack });
    },
  };
}
