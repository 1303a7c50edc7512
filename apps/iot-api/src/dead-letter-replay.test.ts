import { describe, expect, test } from "bun:test";
import { HEADERS, QUEUES } from "@umos/contracts";
import { ConflictError } from "@umos/core";
import { replayHeaders, replayQueue } from "./dead-letter-replay";
import { payloadView } from "./routes/dead-letters";

describe("where a replay goes", () => {
  test("back to the durable queue it died in, the telemetry queue included", () => {
    for (const queue of [QUEUES.uplink, QUEUES.downlink, QUEUES.gateway, QUEUES.telemetry]) {
      expect(replayQueue({ id: "d", queue, routingKey: "iot.generic.event.property.report" })).toBe(queue);
    }
  });

  test("a frame the gateway refused goes where the gateway would have sent it", () => {
    expect(replayQueue({ id: "d", queue: "iot-gateway", routingKey: "iot.dji.device.osd" })).toBe(QUEUES.uplink);
    expect(() => replayQueue({ id: "d", queue: "iot-gateway", routingKey: "iot.unknown.device" })).toThrow(ConflictError);
  });

  test("a live iot-ws replica's queue takes no replays", () => {
    expect(() => replayQueue({ id: "d", queue: "iot-ws-queue.a", routingKey: "iot.generic.event.status.online" })).toThrow("takes no replays");
  });
});

describe("what a replay carries", () => {
  test("the original headers without the death's, and the replay count raised", () => {
    const headers = replayHeaders({
      replayCount: 2,
      headers: {
        [HEADERS.deviceId]: "d-1",
        [HEADERS.mqttTopic]: "generic/d-1/status",
        traceparent: "00-abc-def-01",
        [HEADERS.deadLetterCode]: "invalid_frame",
        [HEADERS.deadLetterReason]: "x",
        [HEADERS.deadLetterQueue]: "iot-uplink-queue",
        [HEADERS.replayCount]: 2,
        "x-death": [{}],
        "x-first-death-queue": "q",
      },
    });
    expect(headers).toEqual({ [HEADERS.deviceId]: "d-1", [HEADERS.mqttTopic]: "generic/d-1/status", traceparent: "00-abc-def-01", [HEADERS.replayCount]: 3 });
  });

  test("a gateway refusal gets the device and vendor its topic names, as the gateway sets them on a relayed frame", () => {
    const headers = replayHeaders({ replayCount: 0, headers: { [HEADERS.mqttTopic]: "tylink/t-1/thing/property/report", [HEADERS.originalSize]: 9000 } });
    expect(headers).toEqual({
      [HEADERS.mqttTopic]: "tylink/t-1/thing/property/report",
      [HEADERS.deviceId]: "t-1",
      [HEADERS.vendor]: "tuya",
      [HEADERS.replayCount]: 1,
    });
  });
});

describe("payload views", () => {
  test("UTF-8 as text, anything else as base64", () => {
    expect(payloadView(Buffer.from('{"a":"é"}'), 10)).toEqual({ encoding: "utf8", data: '{"a":"é"}', truncated: false });
    expect(payloadView(Buffer.from([0xff, 0x00]), 2)).toEqual({ encoding: "base64", data: "/wA=", truncated: false });
  });

  test("a preview cut inside a character is still text", () => {
    const bytes = Buffer.from("ab€"); // € is three bytes
    expect(payloadView(bytes.subarray(0, 3), bytes.length)).toEqual({ encoding: "utf8", data: "ab", truncated: true });
  });
});
