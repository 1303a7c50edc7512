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

/** Without an OTLP endpoint (or a test's exporter) nothing would receive spans, so none are sampled. */
export function createObservability(service: string, options: ObservabilityOptions): Observability {
  const exported = options.otlpUrl !== undefined || options.exporter !== undefined;
  const ratio = exported ? options.sampleRatio : 0;
  const tracing = setupTracing({ serviceName: service, ratio, otlpUrl: options.otlpUrl, exporter: options.exporter });
  return { service, tracer: tracing.tracer, tracing: ratio > 0, metrics: createMetrics(service), shutdown: tracing.shutdown };
}
