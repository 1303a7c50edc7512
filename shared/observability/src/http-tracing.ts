import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Observability } from "./observability";
import { extractContext } from "./tracing";

/**
 * An HTTP handler inside a SERVER span that continues the caller's W3C trace context (or starts
 * a trace, at the sampling ratio), counted in `iot_http_requests_total` and
 * `iot_http_request_duration_seconds`. The route's pattern is known only after routing, so the
 * router reports it through `routeOf`; requests refused before routing (401) or matching no route
 * are labelled `unmatched`, which keeps the label set small whatever paths clients try.
 */
export function tracedFetch(
  obs: Observability,
  handle: (request: Request) => Response | Promise<Response>,
  routeOf: (request: Request) => string | undefined,
): (request: Request) => Promise<Response> {
  const { tracer, metrics } = obs;
  return async (request) => {
    const started = performance.now();
    const method = request.method;
    const parent = extractContext({ traceparent: request.headers.get("traceparent") ?? undefined, tracestate: request.headers.get("tracestate") ?? undefined });
    const span = tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "url.path": new URL(request.url).pathname } },
      parent,
    );
    let status = 500;
    try {
      const response = await context.with(trace.setSpan(parent, span), () => handle(request));
      status = response.status;
      return response;
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      throw err;
    } finally {
      const route = routeOf(request) ?? "unmatched";
      span.updateName(`${method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": status });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      metrics.observeHttp(method, route, status, started);
    }
  };
}
