import { describe, expect, test } from "bun:test";
import type { BusMessage } from "@umos/bus";
import { UmosError, type Clock } from "@umos/core";
import { manualClock } from "@umos/testkit";
import { compileModel, type Definition } from "@umos/thing-model";
import { adapterFor } from "@umos/vendors";
import { check, publish, readFrame, toReal, type FrameWork, type ProcessorParts } from "./processor";

/** The uplink's steps that decide something, each on its own: no bus, no database. */
const clock: Clock = manualClock(1_700_000_000_000);
const parts = { maxFrameBytes: 64, dedupeWindowMs: 10_000, clock } as ProcessorParts;

const message = (routingKey: string, headers: Record<string, unknown>, body = "{}"): BusMessage => ({
  routingKey,
  body: Buffer.from(body),
  headers,
  messageId: "0190c0de-0000-7000-8000-000000000001",
  contentType: "application/json",
  redelivered: false,
});

const refusal = (run: () => void) => {
  try {
    run();
    return "accepted";
  } catch (err) {
    return err instanceof UmosError ? err.code : String(err);
  }
};

describe("readFrame", () => {
  test("takes the device from the headers and the action from the routing key", () => {
    const work = {
      message: message("iot.tuya.device.property.report", {
        "x-device-id": "plug-1",
        "x-mqtt-topic": "tylink/plug-1/thing/property/report",
        "x-received-at": 5,
      }),
    } as FrameWork;
    readFrame(work, parts);
    expect(work.frame).toMatchObject({ deviceId: "plug-1", action: "property.report", topic: "tylink/plug-1/thing/property/report", receivedAt: 5 });
    expect(work.vendor).toBe("tuya");
  });

  test("a frame that came without its arrival time (or a nonsense one) is stamped with the uplink's clock", () => {
    for (const receivedAt of [undefined, "soon", -1]) {
      const work = { message: message("iot.generic.device.property.report", { "x-device-id": "fan-1", "x-received-at": receivedAt }) } as FrameWork;
      readFrame(work, parts);
      expect(work.frame.receivedAt).toBe(1_700_000_000_000);
    }
  });

  test("refuses a key that is no device frame's, a frame without its device, and one past uplink.maxFrameBytes", () => {
    const headers = { "x-device-id": "plug-1" };
    expect(refusal(() => readFrame({ message: message("iot.tuya.event.property.report", headers) } as FrameWork, parts))).toBe("bad_routing_key");
    expect(refusal(() => readFrame({ message: message("iot.acme.device.x", headers) } as FrameWork, parts))).toBe("bad_routing_key");
    expect(refusal(() => readFrame({ message: message("iot.tuya.device.property.report", {}) } as FrameWork, parts))).toBe("missing_header");
    expect(refusal(() => readFrame({ message: message("iot.tuya.device.property.report", headers, "x".repeat(65)) } as FrameWork, parts))).toBe(
      "frame_too_large",
    );
  });
});

describe("toReal and check", () => {
  const definition: Definition = {
    properties: [{ identifier: "power", accessMode: "r", dataType: { type: "float", specs: { min: 0, max: 100, scale: 1 } } }],
    events: [],
    services: [],
  } as unknown as Definition;
  const work = (validation: "strict" | "flag", power: number): FrameWork => {
    const envelope = { id: "m1", ts: 1, vendor: "tuya" as const, deviceId: "plug-1", kind: "property.report", data: { power } };
    return {
      frame: { deviceId: "plug-1", action: "property.report", topic: "t", payload: new Uint8Array(), messageId: "m1", receivedAt: 1 },
      adapter: adapterFor("tuya"),
      decoded: { messages: [{ stage: "event", action: "property.report", envelope, deviceMessageId: "d1" }], replies: [] },
      models: [{ model: compileModel(definition, "plug@1"), validation, definition }],
    } as unknown as FrameWork;
  };

  test("a Tuya value is scaled by its device's own model before the model checks it", () => {
    const scaled = work("strict", 345);
    toReal(scaled);
    check(scaled, parts);
    expect(scaled.entries[0]!.envelope.data).toEqual({ power: 34.5 });
    expect(scaled.entries[0]!.problems).toEqual([]);
    expect(scaled.entries[0]!.dedupeKey).toBe("id:d1");
  });

  test("a value the model refuses is a dead letter under strict validation, and travels flagged under flag", () => {
    const strict = work("strict", 5000);
    toReal(strict);
    expect(refusal(() => check(strict, parts))).toBe("model_violation");
    const flagged = work("flag", 5000);
    toReal(flagged);
    check(flagged, parts);
    expect((flagged.entries[0]!.problems as { path: string }[]).map((p) => p.path)).toEqual(["power"]);
  });
});

describe("publish", () => {
  test("a frame announces online only its own devices, though the batch it was written in brought others online too", async () => {
    const keys: string[] = [];
    const publisher = {
      publish: async (routingKey: string, body: Uint8Array) => void keys.push(`${routingKey} ${JSON.parse(Buffer.from(body).toString()).deviceId}`),
    };
    const stored = { fresh: new Set<string>(), cameOnline: ["fan-1", "fan-2", "fan-3"].map((id) => ({ id, vendor: "generic" })) };
    for (const id of ["fan-1", "fan-2", "fan-3"]) {
      const entry = {
        envelope: { id: `e-${id}`, ts: 1, vendor: "generic" as const, deviceId: id, kind: "property.report", data: {} },
        dedupeKey: id,
        receivedAt: 1,
      };
      const work = {
        message: message("iot.generic.device.property.report", { "x-device-id": id }),
        frame: { deviceId: id },
        vendor: "generic",
        decoded: { messages: [], replies: [] },
        presence: [],
        entries: [entry],
        stored,
      } as unknown as FrameWork;
      await publish(work, { ...parts, publisher } as ProcessorParts);
    }
    expect(keys.sort()).toEqual(["fan-1", "fan-2", "fan-3"].map((id) => `iot.generic.event.status.online ${id}`));
  });
});
