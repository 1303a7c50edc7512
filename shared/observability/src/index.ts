export {
  setupTracing,
  injectContext,
  extractContext,
  inSpan,
  traceFields,
  recordedTraceparent,
  continueTrace,
  type Tracing,
  type TracingOptions,
} from "./tracing";
export { createMetrics, type Metrics, type Labels, type BusSystem } from "./metrics";
export { createObservability, type Observability, type ObservabilityOptions } from "./observability";
export { tracedFetch } from "./http-tracing";
export { recentlySeen } from "./recently-seen";
