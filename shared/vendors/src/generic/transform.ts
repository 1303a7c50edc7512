import type { TSchema } from "@sinclair/typebox";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { Decoded, DecodedMessage, EncodedFrame, RawFrame, TopicRoute } from "../interface";
import { jsonFrame, parseFrame } from "../wire";
import { checkers, type UplinkAction } from "./wire";

const PREFIX = "generic/";
// A Map, not an object literal: a topic ending in `constructor` or `__proto__` must find nothing.
const ACTIONS = new Map<string, UplinkAction>([
  ["property/report", "property.report"],
  ["event/report", "event.report"],
  ["service/reply", "service.reply"],
  ["status", "status"],
]);

export const uplinkFilters = ["generic/+/property/report", "generic/+/event/report", "generic/+/service/reply", "generic/+/status"];

/** `generic/{deviceId}/property/report` -> device and action, from the topic alone. */
export function routeTopic(topic: string): TopicRoute | undefined {
  if (!topic.startsWith(PREFIX)) return undefined;
  const slash = topic.indexOf("/", PREFIX.length);
  if (slash <= PREFIX.length) return undefined;
  const action = ACTIONS.get(topic.slice(slash + 1));
  if (!action) return undefined;
  return { vendor: "generic", deviceId: topic.slice(PREFIX.length, slash), action };
}

/** Generic frames carry no acknowledgements and no topology: one frame, one message. */
export function decode(frame: RawFrame): Decoded {
  return { messages: decodeMessages(frame), replies: [] };
}

function decodeMessages(frame: RawFrame): DecodedMessage[] {
  const action = frame.action as UplinkAction;
  const checker = Object.hasOwn(checkers, action) ? checkers[action] : undefined;
  if (!checker) throw new InvalidInputError("unknown_action", `generic devices send no '${frame.action}' frames`);
  const body = parseFrame(frame.payload, checker as TypeCheck<TSchema>, `generic ${action}`) as { ts?: number; id?: string };
  const base = { id: frame.messageId, ts: body.ts ?? frame.receivedAt, vendor: "generic" as const, deviceId: frame.deviceId };
  const deviceMessageId = body.id;
  switch (action) {
    case "property.report": {
      const b = body as { data: Record<string, unknown> };
      return [{ stage: "event", action, deviceMessageId, envelope: { ...base, kind: KINDS.propertyReport, data: b.data } }];
    }
    case "event.report": {
      const b = body as { event: string; data?: Record<string, unknown>; correlationId?: string };
      const envelope: Envelope = { ...base, kind: KINDS.eventReport, data: { event: b.event, data: b.data ?? {} } };
      if (b.correlationId !== undefined) envelope.correlationId = b.correlationId;
      return [{ stage: "event", action, deviceMessageId, envelope }];
    }
    case "service.reply": {
      const b = body as { correlationId: string; code: number; data?: unknown };
      const envelope: Envelope = { ...base, kind: KINDS.serviceReply, correlationId: b.correlationId, data: { code: b.code, output: b.data ?? null } };
      return [{ stage: "service", action: "service.reply", deviceMessageId, envelope }];
    }
    case "status": {
      const b = body as { state: "online" | "offline" };
      const kind = b.state === "online" ? KINDS.statusOnline : KINDS.statusOffline;
      return [{ stage: "event", action: kind, deviceMessageId, envelope: { ...base, kind, data: { state: b.state } } }];
    }
    default:
      return assertNever(action);
  }
}

/** A normalized command -> the frame the generic device subscribes to. */
export function encode(envelope: Envelope): EncodedFrame {
  const topicBase = `${PREFIX}${envelope.deviceId}`;
  const correlationId = envelope.correlationId ?? envelope.id;
  switch (envelope.kind) {
    case KINDS.serviceCall: {
      const data = envelope.data as { service: string; params?: unknown };
      return jsonFrame(`${topicBase}/service/call`, { correlationId, service: data.service, params: data.params ?? {}, ts: envelope.ts });
    }
    case KINDS.propertySet: {
      return jsonFrame(`${topicBase}/property/set`, { correlationId, data: envelope.data, ts: envelope.ts });
    }
    default:
      throw new InvalidInputError("unsupported_kind", `generic devices take no '${envelope.kind}' messages`);
  }
}

function assertNever(value: never): never {
  throw new InvalidInputError("unknown_action", `unhandled action ${String(value)}`);
}
