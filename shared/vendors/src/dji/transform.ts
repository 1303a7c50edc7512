import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { Decoded, DecodedMessage, EncodedFrame, RawFrame, TargetContext, TopicRoute } from "../interface";
import { jsonFrame, parseFrame, toMillis } from "../wire";
import { checkers, type Frame } from "./wire";

/** Device->cloud topics (docs/protocols.md §1) and the routing-key action each becomes. */
const UPLINK: Record<string, string> = {
  "thing/product/+/osd": "osd",
  "thing/product/+/state": "state",
  "thing/product/+/events": "events",
  "thing/product/+/requests": "requests",
  "thing/product/+/services_reply": "services_reply",
  "thing/product/+/property/set_reply": "property.set_reply",
  "sys/product/+/status": "status",
};

export const uplinkFilters = Object.keys(UPLINK);

const BY_SUFFIX = new Map(Object.entries(UPLINK).map(([filter, action]) => [filter.split("/+/")[1]!, { prefix: filter.split("/+/")[0]!, action }]));

/** `thing/product/{sn}/osd` -> the device with that serial number and action `osd`. */
export function routeTopic(topic: string): TopicRoute | undefined {
  const isThing = topic.startsWith("thing/product/");
  if (!isThing && !topic.startsWith("sys/product/")) return undefined;
  const start = isThing ? 14 : 12;
  const slash = topic.indexOf("/", start);
  if (slash <= start) return undefined;
  const known = BY_SUFFIX.get(topic.slice(slash + 1));
  if (!known || known.prefix !== topic.slice(0, start - 1)) return undefined;
  return { vendor: "dji", deviceId: topic.slice(start, slash), action: known.action };
}

export function decode(frame: RawFrame): Decoded {
  const base = (body: Frame, kind: string, data: unknown): Envelope => ({
    id: frame.messageId,
    ts: toMillis(body.timestamp, frame.receivedAt),
    vendor: "dji",
    deviceId: frame.deviceId,
    kind,
    data,
  });
  const one = (message: DecodedMessage, replies: EncodedFrame[] = []): Decoded => ({ messages: [message], replies });
  const idOf = (body: Frame) => (body.tid ? `${frame.action}:${body.tid}` : undefined);

  switch (frame.action) {
    case "osd":
    case "state": {
      // An aircraft's osd comes on its own topic through its dock: the topic's SN owns the properties.
      const body = parseFrame(frame.payload, checkers.frame, `dji ${frame.action}`);
      return one({ stage: "event", action: KINDS.propertyReport, deviceMessageId: idOf(body), envelope: base(body, KINDS.propertyReport, body.data ?? {}) });
    }
    case "events": {
      const body = parseFrame(frame.payload, checkers.method, "dji events");
      const replies = Number(body.need_reply) === 1 ? [answer(frame.deviceId, "events_reply", body)] : [];
      const envelope = base(body, KINDS.eventReport, { event: body.method, data: body.data ?? {} });
      // A service's progress (`ota_progress`, `flighttask_progress`) carries the bid of the call it reports on: our command id.
      if (body.method.endsWith("_progress") && body.bid) envelope.correlationId = body.bid;
      return one({ stage: "event", action: KINDS.eventReport, deviceMessageId: idOf(body), envelope }, replies);
    }
    case "requests": {
      // Passed on to applications, which answer through POST /api/v1/devices/:id/requests/:tid/reply.
      const body = parseFrame(frame.payload, checkers.method, "dji requests");
      const envelope = base(body, KINDS.request, { method: body.method, data: body.data ?? {}, tid: body.tid ?? null, bid: body.bid ?? null });
      return one({ stage: "event", action: KINDS.request, deviceMessageId: idOf(body), envelope });
    }
    case "services_reply": {
      const body = parseFrame(frame.payload, checkers.reply, "dji services_reply");
      const data = body.data as { result: number; output?: unknown };
      return one(reply(base(body, KINDS.serviceReply, { code: data.result, output: data.output ?? null }), body, idOf(body)));
    }
    case "property.set_reply": {
      // data.<property>.result: 0 ok, 1 failed, 2 timeout; the set succeeded only if every property did.
      const body = parseFrame(frame.payload, checkers.frame, "dji property/set_reply");
      const results = Object.values(body.data ?? {}).map((v) => Number((v as { result?: unknown })?.result ?? 0));
      const code = results.find((r) => r !== 0) ?? 0;
      return one(reply(base(body, KINDS.serviceReply, { code, output: body.data ?? null }), body, idOf(body)));
    }
    case "status": {
      const body = parseFrame(frame.payload, checkers.topology, "dji status");
      const subDevices = (body.data.sub_devices ?? []).map((d) => d.sn);
      const envelope = base(body, KINDS.statusOnline, { state: "online", subDevices });
      return {
        messages: [{ stage: "event", action: KINDS.statusOnline, deviceMessageId: idOf(body), envelope }],
        replies: [answer(frame.deviceId, "status_reply", body, "sys")],
        topology: { gatewayId: frame.deviceId, subDevices },
      };
    }
    default:
      throw new InvalidInputError("unknown_action", `dji devices send no '${frame.action}' frames`);
  }
}

/** DJI matches a reply to its request by tid and bid together (the Cloud API demo): both must echo ours. */
function reply(envelope: Envelope, body: Frame, deviceMessageId: string | undefined): DecodedMessage {
  const correlationId = body.tid === body.bid ? body.tid : undefined;
  return { stage: "service", action: KINDS.serviceReply, deviceMessageId, envelope: { ...envelope, correlationId } };
}

function answer(gatewaySn: string, topic: "events_reply" | "status_reply", request: Frame, root: "thing" | "sys" = "thing"): EncodedFrame {
  return jsonFrame(`${root}/product/${gatewaySn}/${topic}`, {
    tid: request.tid,
    bid: request.bid,
    timestamp: Date.now(),
    method: request.method,
    data: { result: 0 },
  });
}

/** Commands go to the gateway's topics (a dock for its aircraft); tid and bid are the command id, which the reply echoes. */
export function encode(envelope: Envelope, target: TargetContext): EncodedFrame {
  const sn = target.gatewayId ?? envelope.deviceId;
  const id = envelope.correlationId ?? envelope.id;
  switch (envelope.kind) {
    case KINDS.serviceCall: {
      const { service, params } = envelope.data as { service: string; params?: Record<string, unknown> };
      const data = params && Object.keys(params).length > 0 ? params : null;
      return jsonFrame(`thing/product/${sn}/services`, { tid: id, bid: id, timestamp: envelope.ts, method: service, data });
    }
    case KINDS.propertySet:
      return jsonFrame(`thing/product/${sn}/property/set`, { tid: id, bid: id, timestamp: envelope.ts, data: envelope.data });
    case KINDS.requestReply: {
      // Echoes the request's own tid, bid and method, as every DJI _reply does.
      const { tid, bid, method, result, output } = envelope.data as { tid: string; bid: string; method: string; result: number; output?: unknown };
      const data = output === undefined ? { result } : { result, output };
      return jsonFrame(`thing/product/${envelope.deviceId}/requests_reply`, { tid, bid, timestamp: envelope.ts, method, data });
    }
    default:
      throw new InvalidInputError("unsupported_kind", `dji devices take no '${envelope.kind}' messages`);
  }
}
