import type { Bus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import type { Metrics } from "@umos/observability";
import type { Logger } from "@umos/core";
import { openSpool } from "./spool";
import { createStoreAndForward, type StoreAndForward } from "./store-and-forward";

/** The gateway's spool as configured (`gateway.spool`), with its size and age as gauges read at scrape time. */
export function openGatewaySpool(config: UmosConfig["gateway"]["spool"], bus: Bus, log: Logger, metrics: Metrics): StoreAndForward {
  const spool = openSpool(config.path, { maxMessages: config.maxMessages, maxBytes: config.maxBytes });
  const saf = createStoreAndForward({ spool, bus, log: log.child("spool") });
  metrics.gaugeOf("iot_gateway_spool_messages", "Device frames in the store-and-forward spool, acknowledged and not yet in RabbitMQ", () => saf.size());
  metrics.gaugeOf("iot_gateway_spool_age_seconds", "Age of the oldest frame in the spool (0 when empty)", () => saf.oldestAgeMs() / 1000);
  log.info("store and forward on", { path: config.path, maxMessages: config.maxMessages, maxBytes: config.maxBytes, spooled: saf.size() });
  return saf;
}
