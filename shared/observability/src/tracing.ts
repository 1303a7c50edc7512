import { context, propagation, SpanKind, trace, type Context, type Link, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";

export interface TracingOptions {
  serviceName: string;
  /** Share of new traces recorded; a sampled parent is always followed (parent-based). */
  ratio: number;
  /** OTLP/HTTP protobuf endpoint, e.g. http://tempo:4318/v1/traces; none: spans are not exported. */
  otlpUrl?: string;
  /** Tests pass an in-memory exporter (spans exported one by one, at once). */
  exporter?: SpanExporter;
}

export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

let globalsSet = false;

/**
 * One tracer provider per service (several services may share a process in tests). The W3C
 * propagator and the async-local-storage context manager are process-wide and set once
 * (docs/protocols.md §7: SDK 2.x has no provider.register()).
 */
export function setupTracing(options: TracingOptions): Tracing {
  if (!globalsSet) {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    globalsSet = true;
  }
  const processors = options.exporter
    ? [new SimpleSpanProcessor(options.exporter)]
    : options.otlpUrl
      ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpUrl }))]
      : [];
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": options.serviceName }),
    // With nowhere to send spans, none are recorded, not even under a caller's sampled parent: no
    // span is built for nothing and no trace header goes on to the next hop.
    sampler: processors.length === 0 ? new AlwaysOffSampler() : new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.ratio) }),
    spanProcessors: processors,
  });
  return { tracer: provider.getTracer(options.serviceName), shutdown: () => provider.shutdown() };
}

/** W3C trace context of `ctx` as carrier fields (`traceparent`, `tracestate`), for AMQP headers or MQTT user properties. */
export function injectContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a carrier (HTTP/AMQP headers, MQTT user properties) brings; the root context without one. */
export function extractContext(carrier: Record<string, unknown> | undefined): Context {
  const fields: Record<string, string> = {};
  for (const key of ["traceparent", "tracestate"]) {
    const value = carrier?.[key];
    if (typeof value === "string") fields[key] = value;
    else if (Buffer.isBuffer(value)) fields[key] = value.toString("utf8");
  }
  return propagation.extract(context.active(), fields);
}

/** Runs `work` inside a span that ends (recording an error) when the work settles. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: { kind: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context; links?: Link[] },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(name, { kind: options.kind, attributes: options.attributes, links: options.links }, parent, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: 2, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** trace_id and span_id of the active span, for log lines. */
export function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The W3C traceparent of the active span if it is recorded, to store beside what it started (a command). */
export function recordedTraceparent(): string | undefined {
  return trace.getActiveSpan()?.isRecording() ? injectContext().traceparent : undefined;
}

/**
 * Runs `work` in the trace a stored traceparent names (a command's): the scheduler's later send,
 * and the answer of a device that does not echo trace context (DJI, Tuya), join the command's
 * trace through its id. When another trace is active (the answer's own, started at the gateway)
 * the span links to it, so either trace leads to the other. Inside the stored trace already, or
 * without one, `work` runs as it is.
 */
export function continueTrace<T>(tracer: Tracer, name: string, traceparent: string | null | undefined, work: () => Promise<T>): Promise<T> {
  if (!traceparent) return work();
  const parent = extractContext({ traceparent });
  const stored = trace.getSpanContext(parent);
  const active = trace.getActiveSpan();
  const current = active?.isRecording() ? active.spanContext() : undefined;
  if (!stored || current?.traceId === stored.traceId) return work();
  return inSpan(tracer, name, { kind: SpanKind.INTERNAL, parent, links: current ? [{ context: current }] : [] }, work);
}
