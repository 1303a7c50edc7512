import type { Tracer } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createMetrics, type Metrics } from "./metrics";
import { setupTracing } from "./tracing";

/** What a service observes itself with: its tracer and its Prometheus registry. */
export interface Observability {
  service: string;
  tracer: Tracer;
  /** False while spans go nowhere (no OTLP endpoint): entry points then skip the tracing work altogether. */
  tracing: boolean;
  metrics: Metrics;
  /** Flushes spans still waiting for export. */
  shutdown(): Promise<void>;
}

export interface ObservabilityOptions {
  sampleRatio: number;
  otlpUrl?: string;
  /** Tests collect spans in memory instead of exporting them. */
  exporter?: SpanExporter;
}

/** Without an OTLP endpoint (or a test's exporter) nothing would receive spans, so none are recorded (setupTracing). */
export function createObservability(service: string, options: ObservabilityOptions): Observability {
  const exported = options.otlpUrl !== undefined || options.exporter !== undefined;
  const tracing = setupTracing({ serviceName: service, ratio: options.sampleRatio, otlpUrl: options.otlpUrl, exporter: options.exporter });
  return { service, tracer: tracing.tracer, tracing: exported, metrics: createMetrics(service), shutdown: tracing.shutdown };
}
