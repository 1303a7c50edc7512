import type { Observability } from "@umos/observability";
import type { Logger } from "@umos/core";
import { connectEmbeddedBus } from "./embedded/embedded-bus";
import { isEmbeddedUrl } from "./embedded/embedded-url";
import { instrumentBus } from "./instrumented-bus";
import { connectRabbitBus } from "./rabbitmq/rabbitmq-bus";
import type { Bus, BusOptions } from "./types";

/**
 * The one place a bus is chosen: `embedded:<path>` is standalone mode's bus in one SQLite file, with
 * the same topology and semantics (docs/standalone.md, Embedded bus); anything else is RabbitMQ.
 */
export function connectBus(options: BusOptions): Promise<Bus> {
  return isEmbeddedUrl(options.url) ? connectEmbeddedBus(options) : connectRabbitBus(options);
}

/**
 * The bus of one UMOS service, named `<service>@<instance>` in RabbitMQ's connection list, with
 * its traces and counts (instrumented-bus.ts).
 */
export async function connectServiceBus(
  config: Omit<BusOptions, "name" | "log">,
  service: string,
  instance: string,
  log: Logger,
  obs: Observability,
): Promise<Bus> {
  const bus = await connectBus({ ...config, name: `${service}@${instance}`, log: log.child("bus") });
  return shareBus(bus, config.url, obs);
}

/**
 * One service's view of a bus: its own traces and counts of what it publishes and consumes. Several
 * services in one process (standalone) each take one over the same bus, which their owner closes.
 */
export function shareBus(bus: Bus, url: string, obs: Observability): Bus {
  return instrumentBus(bus, obs, isEmbeddedUrl(url) ? "umos_embedded" : "rabbitmq");
}
