import { describe, expect, test } from "bun:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { inSpan, setupTracing } from "@umos/observability";
import { serviceLogger } from "./service-logger";

describe("JSON logs", () => {
  test("one object per line with service, level and message; inside a span also trace_id and span_id", async () => {
    const lines: string[] = [];
    const log = serviceLogger("iot-uplink", { format: "json", write: (line) => lines.push(line) }).child("telemetry");
    log.info("outside", { n: 1, err: new Error("kept as its message") });
    const { tracer } = setupTracing({ serviceName: "iot-uplink", ratio: 1, exporter: new InMemorySpanExporter() });
    let ids = { traceId: "", spanId: "" };
    await inSpan(tracer, "process", { kind: SpanKind.CONSUMER }, async (span) => {
      ids = span.spanContext();
      log.warn("inside");
    });
    const [outside, inside] = lines.map((line) => JSON.parse(line));
    expect(lines.every((line) => !line.includes("\n"))).toBe(true);
    expect(outside).toMatchObject({ level: "info", service: "iot-uplink", name: "iot-uplink:telemetry", msg: "outside", n: 1, err: "kept as its message" });
    expect(outside.trace_id).toBeUndefined();
    expect(inside).toMatchObject({ level: "warn", service: "iot-uplink", msg: "inside", trace_id: ids.traceId, span_id: ids.spanId });
  });
});
