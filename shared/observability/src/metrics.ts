import { monitorEventLoopDelay } from "node:perf_hooks";
import { readdirSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry, type LabelValues } from "prom-client";

/**
 * One registry per service (several may share a process in tests), labelled with the service.
 * The seed's four metrics carry exactly the seed's names; everything else is
 * `iot_{component}_{metric}_{unit}`. prom-client's default Node metrics are left out: several are
 * empty or zero under Bun (docs/findings.md); the process metrics below are the ones that are real.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const registers = [registry];
  /** A gauge read at scrape time, for values the service already keeps (queue lengths, open sockets). */
  const scrapedGauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(await read());
      },
    });
  // Bus messages move with every message: tallied as plain numbers and handed to prom-client when
  // scraped, since its inc() hashes and validates the labels on each call.
  const busCounters = new Map<BusSystem, (direction: string, stage: string, outcome: string) => void>();

  const metrics = {
    registry,
    httpRequests: new Counter({ name: "iot_http_requests_total", help: "HTTP requests answered", labelNames: ["method", "route", "status"], registers }),
    httpDuration: new Histogram({
      name: "iot_http_request_duration_seconds",
      help: "HTTP request latency",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),

    /**
     * The count of one bus's messages, published (confirmed), consumed and dead-lettered, by stage and
     * outcome: `iot_rabbitmq_messages_total` (the seed's name) on RabbitMQ, and on standalone's
     * embedded bus `iot_embedded_bus_messages_total`, so neither name says what the other counts.
     */
    busMessages(system: BusSystem): (direction: string, stage: string, outcome: string) => void {
      let count = busCounters.get(system);
      if (count) return count;
      const tallies = new Map<string, { labels: Labels; n: number }>();
      new Counter({
        name: system === "rabbitmq" ? "iot_rabbitmq_messages_total" : "iot_embedded_bus_messages_total",
        help: `${system === "rabbitmq" ? "RabbitMQ" : "Embedded bus"} messages published (confirmed) and consumed, by stage and outcome`,
        labelNames: ["direction", "stage", "outcome"],
        registers,
        collect() {
          for (const tally of tallies.values()) {
            if (tally.n > 0) this.inc(tally.labels, tally.n);
            tally.n = 0;
          }
        },
      });
      count = (direction, stage, outcome) => {
        const key = `${direction} ${stage} ${outcome}`;
        const tally = tallies.get(key);
        if (tally) tally.n++;
        else tallies.set(key, { labels: { direction, stage, outcome }, n: 1 });
      };
      busCounters.set(system, count);
      return count;
    },

    /** `iot_devices_active`, the seed's gauge: devices online in the registry, read at scrape time. */
    countDevicesActive(read: () => number | Promise<number>): void {
      scrapedGauge("iot_devices_active", "Devices online in the registry", read);
    },

    /** `iot_devices_seen`: devices whose traffic passed within the presence window (iot-gateway, iot-ws, which hold no registry). */
    countDevicesSeen(read: () => number): void {
      scrapedGauge("iot_devices_seen", "Devices whose traffic passed within the presence window", read);
    },

    counter: (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers }),
    gauge: (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers }),
    gaugeOf: scrapedGauge,
    histogram: (name: string, help: string, buckets: number[], labelNames: string[] = []) => new Histogram({ name, help, buckets, labelNames, registers }),

    /** A counter read at scrape time from a running total the service already keeps. */
    counterOf: (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      }),

    /** One answered HTTP request; `route` is the route's pattern (`/api/v1/devices/:id`), never the raw path. */
    observeHttp(method: string, route: string, status: number, startedMs: number): void {
      const labels = { method, route, status: String(status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - startedMs) / 1000);
    },

    /** GET /metrics in Prometheus' text format. */
    async response(): Promise<Response> {
      return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
    },
  };
  registerProcessMetrics(registry);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
/** The `messaging.system` of a bus: RabbitMQ, or standalone's embedded bus. */
export type BusSystem = "rabbitmq" | "umos_embedded";
export type Labels = LabelValues<string>;

function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent",
    registers,
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory",
    registers,
    collect() {
      this.set(process.memoryUsage().rss);
    },
  });
  new Gauge({
    name: "process_open_fds",
    help: "Open file descriptors",
    registers,
    collect() {
      try {
        this.set(readdirSync("/proc/self/fd").length);
      } catch {
        // not on Linux: leave the gauge unset rather than publish a zero
      }
    },
  });
  new Gauge({
    name: "iot_process_event_loop_lag_seconds",
    help: "Event-loop delay, p99 over the scrape interval",
    registers,
    collect() {
      // Under Bun the histogram holds the delay past each sampling interval (measured: 0.1 ms p50 idle).
      this.set(lag.percentile(99) / 1e9);
      lag.reset();
    },
  });
}
