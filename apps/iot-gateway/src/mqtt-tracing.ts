import { context, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import { extractContext, injectContext, type Observability } from "@umos/observability";
import type { InboundPublish } from "./mqtt/publish-codec";

/**
 * The gateway's two MQTT ends of a trace. A device frame is where a trace of device traffic
 * starts (at the sampling ratio) or continues (from the device's MQTT 5 User Properties): the relay
 * runs inside a CONSUMER span, so the bus's PRODUCER span and AMQP header follow it. A frame to a
 * device gets a PRODUCER span and its W3C context as User Properties, which an echoing device
 * hands back with its answer. With tracing off the relay runs untouched.
 */
export function mqttTracing(obs: Observability) {
  const { tracer } = obs;
  const attributes = (operation: string, topic: string): Attributes => ({
    "messaging.system": "mqtt",
    "messaging.operation.name": operation,
    "messaging.destination.name": topic,
  });

  return {
    received<T>(packet: InboundPublish, relay: () => T): T {
      if (!obs.tracing) return relay();
      const parent = extractContext({ traceparent: packet.traceparent, tracestate: packet.tracestate });
      const span = tracer.startSpan("receive mqtt", { kind: SpanKind.CONSUMER, attributes: attributes("receive", packet.topic) }, parent);
      if (!span.isRecording()) return relay();
      try {
        return context.with(trace.setSpan(parent, span), relay);
      } finally {
        span.end();
      }
    },

    async sent(topic: string, publish: (userProperties: Record<string, string> | undefined) => Promise<void>): Promise<void> {
      if (!trace.getActiveSpan()?.isRecording()) return publish(undefined);
      const span = tracer.startSpan("publish mqtt", { kind: SpanKind.PRODUCER, attributes: attributes("publish", topic) });
      try {
        await publish(injectContext(trace.setSpan(context.active(), span)));
      } finally {
        span.end();
      }
    },
  };
}

export type MqttTracing = ReturnType<typeof mqttTracing>;
