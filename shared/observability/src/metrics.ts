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
  let readDevicesActive: (() => number | Promise<number>) | undefined;
  // iot_rabbitmq_messages_total moves with every message on every bus: tallied as plain numbers and
  // handed to prom-client when scraped, since its inc() hashes and validates the labels on each call.
  const rabbitmqTallies = new Map<string, Map<string, Map<string, { labels: Labels; n: number }>>>();

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
    rabbitmqMessages: new Counter({
      name: "iot_rabbitmq_messages_total",
      help: "RabbitMQ messages published (confirmed) and consumed, by stage and outcome",
      labelNames: ["direction", "stage", "outcome"],
      registers,
      collect() {
        for (const byStage of rabbitmqTallies.values()) {
          for (const byOutcome of byStage.values()) {
            for (const tally of byOutcome.values()) {
              if (tally.n > 0) this.inc(tally.labels, tally.n);
              tally.n = 0;
            }
          }
        }
      },
    }),
    /** One message published, consumed or dead-lettered, for iot_rabbitmq_messages_total. */
    countRabbitmqMessage(direction: string, stage: string, outcome: string): void {
      let byStage = rabbitmqTallies.get(direction);
      if (!byStage) {
        byStage = new Map();
        rabbitmqTallies.set(direction, byStage);
      }
      let byOutcome = byStage.get(stage);
      if (!byOutcome) {
        byOutcome = new Map();
        byStage.set(stage, byOutcome);
      }
      const tally = byOutcome.get(outcome);
      if (tally) tally.n++;
      else byOutcome.set(outcome, { labels: { direction, stage, outcome }, n: 1 });
    },
    devicesActive: new Gauge({
      name: "iot_devices_active",
      help: "Devices online in the registry; in the gateway and iot-ws, devices whose traffic passed within the presence window",
      registers,
      async collect() {
        if (readDevicesActive) this.set(await readDevicesActive());
      },
    }),
    /** Where `iot_devices_active` is read from at scrape time; each service names its own source. */
    countDevicesActive(read: () => number | Promise<number>): void {
      readDevicesActive = read;
    },

    counter: (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers }),
    gauge: (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers }),
    /** A gauge read at scrape time, for values the service already keeps (queue lengths, open sockets). */
    gaugeOf: (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      }),
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
