import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { loadFixtures, rawFrame } from "../fixtures";
import { djiAdapter as dji } from "./adapter";

const fixtures = loadFixtures("dji");
const fixture = (name: string) => fixtures.get(name)!;
const decodeFixture = (name: string) => dji.decode(rawFrame(dji, fixture(name)));
const parse = (payload: Uint8Array) => JSON.parse(Buffer.from(payload).toString());
const noTarget = { definition: null, gatewayId: null };

describe("DJI topics", () => {
  test("every uplink fixture's topic routes to its device and an action, without reading the payload", () => {
    const routes = [...fixtures.values()].filter((f) => f.name !== "services").map((f) => [f.name, dji.routeTopic(f.topic)]);
    for (const [name, route] of routes) expect(route, String(name)).toBeDefined();
    expect(dji.routeTopic("thing/product/dock_sn/osd")).toEqual({ vendor: "dji", deviceId: "dock_sn", action: "osd" });
    expect(dji.routeTopic("sys/product/dock_sn/status")).toEqual({ vendor: "dji", deviceId: "dock_sn", action: "status" });
    expect(dji.routeTopic("thing/product/dock_sn/property/set_reply")?.action).toBe("property.set_reply");
    expect(dji.routeTopic("thing/product/dock_sn/services")).toBeUndefined(); // cloud -> device
    expect(dji.routeTopic("sys/product/dock_sn/osd")).toBeUndefined();
    expect(dji.routeTopic("thing/product//osd")).toBeUndefined();
  });
});

describe("DJI frames -> envelopes", () => {
  test("osd and state become property reports of the topic's device, keeping nested values", () => {
    const { messages, replies } = decodeFixture("osd");
    expect(replies).toEqual([]);
    expect(messages[0]).toMatchObject({
      stage: "event",
      action: "property.report",
      deviceMessageId: "osd:43d2e632-1558-4c4d-83c2-bbd2a6cd4a9a",
      envelope: {
        vendor: "dji",
        deviceId: "dock_sn",
        kind: "property.report",
        ts: 1667220916697,
        data: { mode_code: 1, drone_charge_state: { capacity_percent: 100 } },
      },
    });
    expect(decodeFixture("state").messages[0]!.envelope.data).toEqual({ firmware_version: "10.01.1612" });
  });

  test("an aircraft's osd sent through its dock is the aircraft's, and a string timestamp is read", () => {
    const { envelope } = decodeFixture("osd-aircraft").messages[0]!;
    expect(envelope.deviceId).toBe("1581F5BKD225D00BP891");
    expect(envelope.ts).toBe(1667220916800);
    expect((envelope.data as { battery: unknown }).battery).toEqual({ capacity_percent: 87 });
  });

  test("an event with need_reply is answered on events_reply with its tid and bid", () => {
    const { messages, replies } = decodeFixture("events");
    expect(messages[0]!.envelope).toMatchObject({ kind: "event.report", data: { event: "hms", data: { list: [{ code: "0x16100083" }] } } });
    expect(replies).toHaveLength(1);
    expect(replies[0]!.topic).toBe("thing/product/dock_sn/events_reply");
    expect(parse(replies[0]!.payload)).toMatchObject({
      tid: "9f6ae4b2-3b6c-4c41-9a64-5a1f9a1c2e77",
      bid: "0a6fd3cf-2b2e-4b5a-8c69-3c5f2f6b7e88",
      method: "hms",
      data: { result: 0 },
    });
    const quiet = { ...fixture("events"), payload: { ...(fixture("events").payload as object), need_reply: 0 } };
    expect(dji.decode(rawFrame(dji, quiet)).replies).toEqual([]);
  });

  test("a service's progress event carries the bid of the call it reports on (ota_progress), other events none", () => {
    expect(decodeFixture("events").messages[0]!.envelope.correlationId).toBeUndefined();
    const progress = {
      ...fixture("events"),
      payload: {
        tid: "t-1",
        bid: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        timestamp: 1_700_000_000_000,
        method: "ota_progress",
        need_reply: 0,
        data: { result: 0, output: { status: "in_progress", progress: { percent: 40, current_step: "download_firmware" } } },
      },
    };
    expect(dji.decode(rawFrame(dji, progress)).messages[0]!.envelope).toMatchObject({
      kind: "event.report",
      correlationId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      data: { event: "ota_progress", data: { output: { status: "in_progress", progress: { percent: 40 } } } },
    });
  });

  test("a request is passed on with its method, tid and bid", () => {
    expect(decodeFixture("requests").messages[0]).toMatchObject({
      stage: "event",
      action: "request",
      envelope: { kind: "request", data: { method: "config", tid: "2b1c9a8e-7d6f-4e5a-9b3c-1d2e3f4a5b6c" } },
    });
  });

  test("services_reply correlates on tid and bid, with result as code and the output", () => {
    const [m] = decodeFixture("services_reply").messages;
    expect(m).toMatchObject({
      stage: "service",
      action: "service.reply",
      envelope: { kind: "service.reply", correlationId: "1d34b1d5-5d7e-4c2c-9a8c-7a0ef2f1d5aa", data: { code: 0, output: { status: "ok" } } },
    });
    const mismatched = { ...fixture("services_reply"), payload: { ...(fixture("services_reply").payload as object), bid: "another-flow" } };
    expect(dji.decode(rawFrame(dji, mismatched)).messages[0]!.envelope.correlationId).toBeUndefined();
  });

  test("property/set_reply fails the set if any property failed", () => {
    expect(decodeFixture("property_set_reply").messages[0]!.envelope.data).toMatchObject({ code: 1, output: { height_limit: { result: 1 } } });
  });

  test("update_topo: the gateway is online, its sub-devices are its topology, and status_reply answers it", () => {
    const decoded = decodeFixture("status");
    expect(decoded.topology).toEqual({ gatewayId: "dock_sn", subDevices: ["1581F5BKD225D00BP891"] });
    expect(decoded.messages[0]!.envelope).toMatchObject({ kind: "status.online", deviceId: "dock_sn" });
    expect(decoded.replies[0]!.topic).toBe("sys/product/dock_sn/status_reply");
    expect(parse(decoded.replies[0]!.payload)).toMatchObject({ method: "update_topo", data: { result: 0 } });
    expect(decodeFixture("status-empty").topology).toEqual({ gatewayId: "dock_sn", subDevices: [] });
  });

  test("a frame that is not DJI's shape is refused naming what is wrong", () => {
    const bad = { ...fixture("services_reply"), payload: { tid: "t", bid: "t", data: { output: {} } } };
    expect(() => dji.decode(rawFrame(dji, bad))).toThrow(InvalidInputError);
    expect(() => dji.decode({ ...rawFrame(dji, fixture("osd")), payload: Buffer.from("[") })).toThrow("not valid JSON");
  });
});

describe("commands -> DJI frames", () => {
  test("a service call re-encodes the documented services frame, tid and bid being the command id", () => {
    const documented = fixture("services").payload as { tid: string; timestamp: number; method: string; data: Record<string, unknown> };
    const frame = dji.encode(
      {
        id: "m",
        ts: documented.timestamp,
        vendor: "dji",
        deviceId: "dock_sn",
        kind: "service.call",
        correlationId: documented.tid,
        data: { service: documented.method, params: documented.data },
      },
      noTarget,
    );
    expect(frame.topic).toBe(fixture("services").topic);
    expect(parse(frame.payload)).toEqual(documented);
  });

  test("a command to a sub-device goes through its gateway's topic; a parameterless call sends data null", () => {
    const frame = dji.encode(
      { id: "m", ts: 1, vendor: "dji", deviceId: "aircraft", kind: "service.call", correlationId: "c", data: { service: "return_home", params: {} } },
      { definition: null, gatewayId: "dock_sn" },
    );
    expect(frame.topic).toBe("thing/product/dock_sn/services");
    expect(parse(frame.payload).data).toBeNull();
  });

  test("a property set goes to property/set", () => {
    const frame = dji.encode(
      { id: "m", ts: 1, vendor: "dji", deviceId: "dock_sn", kind: "property.set", correlationId: "c", data: { night_lights_state: 1 } },
      noTarget,
    );
    expect(frame.topic).toBe("thing/product/dock_sn/property/set");
    expect(parse(frame.payload)).toEqual({ tid: "c", bid: "c", timestamp: 1, data: { night_lights_state: 1 } });
  });
});

test("an application's answer to a request echoes its tid, bid and method on requests_reply", () => {
  const frame = dji.encode(
    {
      id: "m",
      ts: 5,
      vendor: "dji",
      deviceId: "dock_sn",
      kind: "request.reply",
      data: { tid: "t", bid: "b", method: "config", result: 0, output: { ntp_server_host: "pool.ntp.org" } },
    },
    noTarget,
  );
  expect(frame.topic).toBe("thing/product/dock_sn/requests_reply");
  expect(parse(frame.payload)).toEqual({
    tid: "t",
    bid: "b",
    timestamp: 5,
    method: "config",
    data: { result: 0, output: { ntp_server_host: "pool.ntp.org" } },
  });
});

describe("DJI thing models", () => {
  test("DJI's TSL-shaped specs import as they are", () => {
    const definition = dji.importModel({
      properties: [{ identifier: "mode_code", accessMode: "r", dataType: { type: "enum", specs: { "0": "idle", "1": "debug" } } }],
    });
    expect(definition.properties[0]!.identifier).toBe("mode_code");
    expect(definition.services).toEqual([]);
  });
});

describe("DJI frames that could not be stored", () => {
  test("an update_topo whose sub-device sn is no device id is refused, not left to fail the devices table's check", () => {
    const frame = (sn: string) => ({
      ...rawFrame(dji, fixture("status")),
      payload: Buffer.from(JSON.stringify({ tid: "t", bid: "b", method: "update_topo", data: { sub_devices: [{ sn }] } })),
    });
    for (const sn of ["a/b", "x".repeat(129), "has space", ""]) {
      expect(() => dji.decode(frame(sn)), sn).toThrow(InvalidInputError);
    }
    expect(dji.decode(frame("1581F5BKD223500A")).topology).toEqual({ gatewayId: expect.any(String), subDevices: ["1581F5BKD223500A"] });
  });
});
