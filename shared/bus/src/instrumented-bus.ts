import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import { EXCHANGE, HEADERS, isStage } from "@umos/contracts";
import { extractContext, injectContext, type BusSystem, type Observability } from "@umos/observability";
import { isPermanent } from "@umos/core";
import type { Bus, BusMessage, PublishOptions } from "./types";

/**
 * The bus with traces and counts, whatever carries it (RabbitMQ or the embedded bus).
 *
 * Sampling is decided once, where a message enters UMOS (iot-api for a request, iot-gateway for a
 * device frame): a publish inside a recorded span opens a PRODUCER span and carries its W3C
 * `traceparent` in the AMQP headers; a consumed message with one is processed inside a CONSUMER span
 * that is its child. A message without one is neither traced nor given a header, so an unsampled
 * message costs the broker no extra header (docs/findings.md: every header costs broker CPU).
 */
export function instrumentBus(bus: Bus, obs: Observability, system: BusSystem = "rabbitmq"): Bus {
  const { tracer, metrics } = obs;
  const countMessage = metrics.busMessages(system);
  const count = (direction: string, routingKey: string, outcome: string) => countMessage(direction, stageOf(routingKey), outcome);

  function publish(routingKey: string, body: Uint8Array, options: PublishOptions = {}): Promise<void> {
    const parent = context.active();
    const parentSpan = trace.getSpan(parent);
    if (!parentSpan?.isRecording()) return counted(bus.publish(routingKey, body, options), routingKey);
    const span = tracer.startSpan(
      `publish ${EXCHANGE}`,
      { kind: SpanKind.PRODUCER, attributes: messageAttributes(system, "publish", `${EXCHANGE}:${routingKey}`, routingKey, options.messageId) },
      parent,
    );
    const headers = { ...options.headers, ...injectContext(trace.setSpan(parent, span)) };
    return ended(span, counted(bus.publish(routingKey, body, { ...options, headers }), routingKey));
  }

  function counted(confirmed: Promise<void>, routingKey: string): Promise<void> {
    return confirmed.then(
      () => count("publish", routingKey, "ok"),
      (err: unknown) => {
        count("publish", routingKey, "failed");
        throw err;
      },
    );
  }

  return {
    publish,
    isConnected: () => bus.isConnected(),
    probe: bus.probe,
    close: () => bus.close(),
    deadLetter(message, code, reason, queue) {
      count("dead_letter", message.routingKey, code);
      return bus.deadLetter(message, code, reason, queue);
    },
    consume(options, handler) {
      const queue = typeof options.queue === "string" ? options.queue : `ws:${options.queue.wsInstance}`;
      return bus.consume(options, async (message: BusMessage) => {
        const settle = (outcome: string) => count("consume", message.routingKey, outcome);
        const work = message.headers[HEADERS.traceparent] === undefined ? handler(message) : processTraced(message, queue, () => handler(message));
        try {
          await work;
          settle("ok");
        } catch (err) {
          settle(isPermanent(err) ? "dead_lettered" : "retried");
          throw err;
        }
      });
    },
  };

  function processTraced(message: BusMessage, queue: string, work: () => Promise<void>): Promise<void> {
    const parent = extractContext(message.headers);
    const span = tracer.startSpan(
      `process ${queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          ...messageAttributes(system, "process", `${EXCHANGE}:${message.routingKey}:${queue}`, message.routingKey, message.messageId),
          ...(typeof message.headers[HEADERS.deviceId] === "string" ? { "iot.device.id": message.headers[HEADERS.deviceId] as string } : {}),
        },
      },
      parent,
    );
    return ended(span, context.with(trace.setSpan(parent, span), work));
  }
}

/** Attributes of the OTel messaging conventions (docs/protocols.md §6), new names. */
function messageAttributes(system: string, operation: string, destination: string, routingKey: string, messageId: string | undefined): Attributes {
  return {
    "messaging.system": system,
    "messaging.operation.name": operation,
    "messaging.operation.type": operation === "publish" ? "send" : "process",
    "messaging.destination.name": destination,
    "messaging.rabbitmq.destination.routing_key": routingKey,
    ...(messageId ? { "messaging.message.id": messageId } : {}),
  };
}

/** Ends `span` when `work` settles, recording a failure. */
export function ended<T>(span: Span, work: Promise<T>): Promise<T> {
  return work.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      span.end();
      throw err;
    },
  );
}

/** The stage segment of `iot.{vendor}.{stage}.{action}`, a small set fit for a metric label. */
function stageOf(routingKey: string): string {
  // Sliced rather than split: this runs for every message.
  const vendorAt = routingKey.indexOf(".") + 1;
  const stageAt = vendorAt === 0 ? 0 : routingKey.indexOf(".", vendorAt) + 1;
  if (stageAt === 0) return "other";
  const end = routingKey.indexOf(".", stageAt);
  const stage = routingKey.slice(stageAt, end < 0 ? undefined : end);
  return isStage(stage) ? stage : "other";
}
