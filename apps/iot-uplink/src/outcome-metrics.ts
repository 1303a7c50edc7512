import type { BusMessage, MessageHandler } from "@umos/bus";
import type { Metrics } from "@umos/observability";
import { isPermanent } from "@umos/core";

/**
 * The uplink's own counts around its frame handler: frames processed, frames refused as invalid
 * (dead-lettered, by the error's code), and failures left to the bus to retry.
 */
export function countOutcomes(handler: MessageHandler, metrics: Metrics): MessageHandler {
  const processed = metrics.counter("iot_uplink_messages_processed_total", "Device frames decoded, stored and republished");
  const invalid = metrics.counter("iot_uplink_messages_invalid_total", "Device frames refused as invalid and dead-lettered, by reason code", ["code"]);
  const failed = metrics.counter(
    "iot_uplink_messages_failed_total",
    "Device frames whose processing failed for a retryable reason (retried, dead-lettered as gave_up after the last try)",
  );
  return async (message: BusMessage) => {
    try {
      await handler(message);
      processed.inc();
    } catch (err) {
      if (isPermanent(err)) invalid.inc({ code: err.code });
      else failed.inc();
      throw err;
    }
  };
}
