import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import type { DecodedMessage, EncodedFrame, RawFrame, TopicRoute } from "../interface";
import { checkers, type UplinkAction } from "./wire";

const PREFIX = "generic/";
const ACTIONS: Record<string, UplinkAction> = {
  "property/report": "property.report",
  "event/report": "event.report",
  "service/reply": "service.reply",
  status: "status",
};

export const uplinkFilters = ["generic/+/property/report", "generic/+/event/report", "generic/+/service/reply", "generic/+/status"];

/** `generic/{deviceId}/property/report` -> device and action, from the topic alone. */
export function routeTopic(topic: string): TopicRoute | undefined {
  if (!topic.startsWith(PREFIX)) return undefined;
  const slash = topic.indexOf("/", PREFIX.length);
  if (slash <= PREFIX.length) return undefined;
  const action = ACTIONS[topic.slice(slash + 1)];
  if (!action) return undefined;
  return { vendor: "generic", deviceId: topic.slice(PREFIX.length, slash), action };
}

export function decode(frame: RawFrame): DecodedMessage[] {
  const action = frame.action as UplinkAction;
  const checker = checkers[action];
  if (!checker) throw new InvalidInputError("unknown_action", `generic devices send no '${frame.action}' frames`);
  const body = parseJson(frame.payload, action);
  if (!checker.Check(body)) {
    const first = checker.Errors(body).First();
    const where = first?.path || "/";
    throw new InvalidInputError("invalid_frame", `generic ${action} frame: ${where}: ${first?.message ?? "invalid"}`);
  }
  const base = { id: frame.messageId, ts: body.ts ?? frame.receivedAt, vendor: "generic" as const, deviceId: frame.deviceId };
  const deviceMessageId = body.id;
  switch (action) {
    case "property.report": {
      const b = body as { data: Record<string, unknown> };
      return [{ stage: "event", action, deviceMessageId, envelope: { ...base, kind: KINDS.propertyReport, data: b.data } }];
    }
    case "event.report": {
      const b = body as { event: string; data?: Record<string, unknown> };
      return [{ stage: "event", action, deviceMessageId, envelope: { ...base, kind: KINDS.eventReport, data: { event: b.event, data: b.data ?? {} } } }];
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
      const frame = { correlationId, service: data.service, params: data.params ?? {}, ts: envelope.ts };
      return { topic: `${topicBase}/service/call`, payload: Buffer.from(JSON.stringify(frame)) };
    }
    case KINDS.propertySet: {
      const frame = { correlationId, data: envelope.data, ts: envelope.ts };
      return { topic: `${topicBase}/property/set`, payload: Buffer.from(JSON.stringify(frame)) };
    }
    default:
      throw new InvalidInputError("unsupported_kind", `generic devices take no '${envelope.kind}' messages`);
  }
}

function parseJson(payload: Uint8Array, action: string): Record<string, unknown> & { ts?: number; id?: string } {
  try {
    return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"));
  } catch {
    throw new InvalidInputError("malformed_json", `generic ${action} frame is not valid JSON`);
  }
}

function assertNever(value: never): never {
  throw new InvalidInputError("unknown_action", `unhandled action ${String(value)}`);
}
