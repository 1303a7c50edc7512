import { describe, expect, test } from "bun:test";
import { context, SpanKind, trace, TraceFlags } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { extractContext, injectContext, inSpan, setupTracing, traceFields } from "./tracing";

describe("trace context", () => {
  test("a span's context travels as a W3C traceparent and comes back as the parent of the next hop", async () => {
    const exporter = new InMemorySpanExporter();
    const { tracer } = setupTracing({ serviceName: "a", ratio: 1, exporter });
    let carrier: Record<string, string> = {};
    await inSpan(tracer, "publish iot", { kind: SpanKind.PRODUCER }, async () => {
      carrier = injectContext();
      expect(traceFields().trace_id).toMatch(/^[0-9a-f]{32}$/);
    });
    expect(carrier.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const { tracer: other } = setupTracing({ serviceName: "b", ratio: 1, exporter });
    await inSpan(other, "process", { kind: SpanKind.CONSUMER, parent: extractContext(carrier) }, async () => {});
    const [producer, consumer] = exporter.getFinishedSpans();
    expect(consumer!.spanContext().traceId).toBe(producer!.spanContext().traceId);
    expect(consumer!.parentSpanContext?.spanId).toBe(producer!.spanContext().spanId);
  });

  test("an all-zero or malformed traceparent is ignored (W3C trace context)", () => {
    const ctx = extractContext({ traceparent: "00-00000000000000000000000000000000-0000000000000000-01" });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(trace.getSpanContext(extractContext({ traceparent: "garbage" }))).toBeUndefined();
  });
});

describe("sampling", () => {
  test("the configured ratio is kept within statistical bounds, and a sampled parent is always followed", async () => {
    const exporter = new InMemorySpanExporter();
    const { tracer } = setupTracing({ serviceName: "s", ratio: 0.1, exporter });
    const roots = 20_000;
    for (let i = 0; i < roots; i++) tracer.startSpan("root", {}, context.active()).end();
    // Binomial(20,000, 0.1): mean 2,000, sd ~42; 5 sd either side never fails by chance in practice.
    expect(exporter.getFinishedSpans().length).toBeGreaterThan(2000 - 5 * 42);
    expect(exporter.getFinishedSpans().length).toBeLessThan(2000 + 5 * 42);
    exporter.reset();
    const parent = trace.setSpanContext(context.active(), {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    for (let i = 0; i < 200; i++) tracer.startSpan("child", {}, parent).end();
    expect(exporter.getFinishedSpans().length).toBe(200);
  });
});

describe("no collector", () => {
  test("without an exporter nothing is recorded, even under a sampled parent, so no header goes on", () => {
    const { tracer } = setupTracing({ serviceName: "off", ratio: 1 });
    const parent = trace.setSpanContext(context.active(), {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(tracer.startSpan("child", {}, parent).isRecording()).toBe(false);
    expect(tracer.startSpan("root").isRecording()).toBe(false);
  });
});

describe("export", () => {
  test("spans arrive as OTLP protobuf at a real HTTP listener's /v1/traces", async () => {
    const received: { path: string; type: string | null; bytes: number }[] = [];
    const server = Bun.serve({
      port: 0,
      async fetch(req) {
        received.push({ path: new URL(req.url).pathname, type: req.headers.get("content-type"), bytes: (await req.arrayBuffer()).byteLength });
        return new Response(null, { status: 200 });
      },
    });
    const tracing = setupTracing({ serviceName: "exporter-test", ratio: 1, otlpUrl: `http://127.0.0.1:${server.port}/v1/traces` });
    tracing.tracer.startSpan("exported").end();
    await tracing.shutdown(); // flushes the batch
    server.stop(true);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: "/v1/traces", type: "application/x-protobuf" });
    expect(received[0]!.bytes).toBeGreaterThan(50);
  });
});
