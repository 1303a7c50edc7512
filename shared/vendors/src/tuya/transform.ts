import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { Decoded, DecodedMessage, EncodedFrame, RawFrame, TargetContext, TopicRoute } from "../interface";
import { jsonFrame, parseFrame, toMillis } from "../wire";
import { toWire } from "./scale";
import { checkers, type Events, type Values } from "./wire";

/** Device->cloud topics under `tylink/{deviceId}/` and their routing-key actions. */
// A Map, not an object literal: a topic ending in `constructor` or `__proto__` must find nothing.
const UPLINK = new Map<string, string>([
  ["thing/property/report", "property.report"],
  ["thing/event/trigger", "event.trigger"],
  ["thing/data/batch_report", "data.batch_report"],
  ["thing/property/set_response", "property.set_response"],
  ["thing/action/execute_response", "action.execute_response"],
  ["ota/progress/report", "ota.progress"],
  ["ota/firmware/report", "ota.firmware_report"],
]);

export const uplinkFilters = [...UPLINK.keys()].map((suffix) => `tylink/+/${suffix}`);

export function routeTopic(topic: string): TopicRoute | undefined {
  if (!topic.startsWith("tylink/")) return undefined;
  const slash = topic.indexOf("/", 7);
  if (slash <= 7) return undefined;
  const action = UPLINK.get(topic.slice(slash + 1));
  return action ? { vendor: "tuya", deviceId: topic.slice(7, slash), action } : undefined;
}

export function decode(frame: RawFrame): Decoded {
  const envelope = (deviceId: string, kind: string, ts: number, data: unknown): Envelope => ({
    id: frame.messageId,
    ts,
    vendor: "tuya",
    deviceId,
    kind,
    data,
  });

  switch (frame.action) {
    case "property.report": {
      const body = parseFrame(frame.payload, checkers.propertyReport, "tuya property/report");
      const ts = toMillis(body.time, frame.receivedAt);
      const message = properties(envelope(frame.deviceId, KINDS.propertyReport, ts, {}), body.data, body.msgId, frame);
      return { messages: [message], replies: acknowledged(body.sys?.ack, frame.deviceId, "thing/property/report_response", body.msgId) };
    }
    case "event.trigger": {
      const body = parseFrame(frame.payload, checkers.eventTrigger, "tuya event/trigger");
      const ts = toMillis(body.data.eventTime ?? body.time, frame.receivedAt);
      const data = { event: body.data.eventCode, data: body.data.outputParams ?? {} };
      const message: DecodedMessage = {
        stage: "event",
        action: KINDS.eventReport,
        deviceMessageId: body.msgId,
        envelope: envelope(frame.deviceId, KINDS.eventReport, ts, data),
      };
      return { messages: [message], replies: acknowledged(body.sys?.ack, frame.deviceId, "thing/event/trigger_response", body.msgId) };
    }
    case "ota.progress": {
      // TuyaLink's progress names no command: the platform ties it to the update sent to this device last.
      const body = parseFrame(frame.payload, checkers.otaProgress, "tuya ota/progress/report");
      const { progress, channel } = body.data;
      const state = progress < 0 ? "failed" : progress >= 100 ? "done" : "in_progress";
      const data = { event: "ota.progress", data: { percent: Math.max(progress, 0), state, channel: channel ?? 0 } };
      const event = envelope(frame.deviceId, KINDS.eventReport, toMillis(body.time, frame.receivedAt), data);
      return { messages: [{ stage: "event", action: KINDS.eventReport, deviceMessageId: body.msgId, envelope: event }], replies: [] };
    }
    case "ota.firmware_report": {
      // The main module's channel (0) is the device's firmware version; without it, the first channel listed.
      const body = parseFrame(frame.payload, checkers.otaFirmwareReport, "tuya ota/firmware/report");
      const channels = body.data.otaChannel;
      const main = channels.find((c) => c.channel === 0) ?? channels[0]!;
      const data = { firmware_version: main.version };
      const report = envelope(frame.deviceId, KINDS.propertyReport, toMillis(body.time, frame.receivedAt), data);
      return { messages: [{ stage: "event", action: KINDS.propertyReport, deviceMessageId: body.msgId, envelope: report }], replies: [] };
    }
    case "property.set_response":
    case "action.execute_response": {
      const body = parseFrame(frame.payload, checkers.response, `tuya ${frame.action}`);
      const output = body.data?.outputParams ?? null;
      const reply = {
        ...envelope(frame.deviceId, KINDS.serviceReply, toMillis(body.time, frame.receivedAt), { code: body.code, output }),
        correlationId: commandIdOf(body.msgId),
      };
      return { messages: [{ stage: "service", action: KINDS.serviceReply, deviceMessageId: `${frame.action}:${body.msgId}`, envelope: reply }], replies: [] };
    }
    case "data.batch_report": {
      // A gateway reports for itself and up to 20 sub-devices; each message belongs to its own device.
      const body = parseFrame(frame.payload, checkers.batchReport, "tuya batch_report");
      const ts = toMillis(body.time, frame.receivedAt);
      const messages: DecodedMessage[] = [];
      const add = (deviceId: string, values?: Values, events?: Events) => {
        if (values && Object.keys(values).length > 0)
          messages.push(properties(envelope(deviceId, KINDS.propertyReport, ts, {}), values, `${body.msgId}:${deviceId}`, frame));
        for (const [code, event] of Object.entries(events ?? {})) {
          const data = { event: code, data: event.outputParams ?? {} };
          messages.push({
            stage: "event",
            action: KINDS.eventReport,
            deviceMessageId: `${body.msgId}:${deviceId}:${code}`,
            envelope: envelope(deviceId, KINDS.eventReport, toMillis(event.eventTime, ts), data),
          });
        }
      };
      add(frame.deviceId, body.data.properties, body.data.events);
      for (const sub of body.data.subDevices ?? []) add(sub.deviceId, sub.properties, sub.events);
      // Each normalized message needs an id of its own; the first keeps the gateway's.
      for (const [i, m] of messages.entries()) m.envelope.id = i === 0 ? frame.messageId : Bun.randomUUIDv7();
      return { messages, replies: acknowledged(body.sys?.ack, frame.deviceId, "thing/data/batch_report_response", body.msgId) };
    }
    default:
      throw new InvalidInputError("unknown_action", `tuya devices send no '${frame.action}' frames`);
  }
}

/** `{code: {value, time}}` -> `{code: value}`, stamped with the newest property time. */
function properties(base: Envelope, values: Values, msgId: string, frame: RawFrame): DecodedMessage {
  const data: Record<string, unknown> = {};
  let newest = 0;
  for (const [code, { value, time }] of Object.entries(values)) {
    data[code] = value;
    newest = Math.max(newest, toMillis(time, 0));
  }
  return { stage: "event", action: KINDS.propertyReport, deviceMessageId: msgId, envelope: { ...base, ts: newest || base.ts || frame.receivedAt, data } };
}

/** With `sys.ack: 1` the device waits for `{msgId, time, code: 0}` on the matching _response topic. */
function acknowledged(ack: number | undefined, deviceId: string, suffix: string, msgId: string): EncodedFrame[] {
  return ack === 1 ? [jsonFrame(`tylink/${deviceId}/${suffix}`, { msgId, time: Date.now(), code: 0 })] : [];
}

/** Tuya's msgId holds at most 32 characters: a command id travels as its 32 hex digits and comes back as a UUID. */
export const msgIdOf = (commandId: string) => commandId.replaceAll("-", "");

function commandIdOf(msgId: string): string {
  return /^[0-9a-f]{32}$/i.test(msgId) ? `${msgId.slice(0, 8)}-${msgId.slice(8, 12)}-${msgId.slice(12, 16)}-${msgId.slice(16, 20)}-${msgId.slice(20)}` : msgId;
}

/** The service name that sends a firmware update to a Tuya device (on `ota/issue`, not `action/execute`). */
export const TUYA_OTA_ISSUE = "ota.issue";

export function encode(envelope: Envelope, target: TargetContext): EncodedFrame {
  const msgId = msgIdOf(envelope.correlationId ?? envelope.id);
  const base = `tylink/${envelope.deviceId}/thing`;
  switch (envelope.kind) {
    case KINDS.serviceCall: {
      const { service, params } = envelope.data as { service: string; params?: Record<string, unknown> };
      // A firmware update goes out on TuyaLink's own OTA topic, which has no response: the job judges it by the version reported.
      if (service === TUYA_OTA_ISSUE)
        return jsonFrame(`tylink/${envelope.deviceId}/ota/issue`, { msgId, time: envelope.ts, version: "1.0", data: params ?? {} });
      return jsonFrame(`${base}/action/execute`, { msgId, time: envelope.ts, data: { actionCode: service, inputParams: params ?? {} } });
    }
    case KINDS.propertySet: {
      // sys.ack = 1 asks for set_response, which is what acks the command.
      const data = toWire(envelope.data as Record<string, unknown>, target.definition);
      return jsonFrame(`${base}/property/set`, { msgId, time: envelope.ts, data, sys: { ack: 1 } });
    }
    default:
      throw new InvalidInputError("unsupported_kind", `tuya devices take no '${envelope.kind}' messages`);
  }
}
