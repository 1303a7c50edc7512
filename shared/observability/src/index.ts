export { setupTracing, injectContext, extractContext, inSpan, traceFields, type Tracing, type TracingOptions } from "./tracing";
export { createMetrics, type Metrics, type Labels } from "./metrics";
