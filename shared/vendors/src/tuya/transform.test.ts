import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { compileModel } from "@umos/thing-model";
import { loadFixtures, rawFrame } from "../fixtures";
import { tuyaAdapter as tuya } from "./adapter";

const fixtures = loadFixtures("tuya");
const fixture = (name: string) => fixtures.get(name)!;
const decodeFixture = (name: string) => tuya.decode(rawFrame(tuya, fixture(name)));
const parse = (payload: Uint8Array) => JSON.parse(Buffer.from(payload).toString());
const model = tuya.importModel(fixture("model_get_response"));
const COMMAND = "01a21c31-4ce5-74a1-b937-41301045b1c3";

describe("Tuya topics", () => {
  test("device->cloud topics route by the device id in the topic", () => {
    expect(tuya.routeTopic("tylink/tuya_dev/thing/property/report")).toEqual({ vendor: "tuya", deviceId: "tuya_dev", action: "property.report" });
    expect(tuya.routeTopic("tylink/tuya_gw/thing/data/batch_report")?.action).toBe("data.batch_report");
    expect(tuya.routeTopic("tylink/tuya_dev/thing/action/execute_response")?.action).toBe("action.execute_response");
    expect(tuya.routeTopic("tylink/tuya_dev/thing/property/set")).toBeUndefined(); // cloud -> device
    expect(tuya.routeTopic("tylink//thing/property/report")).toBeUndefined();
  });
});

describe("Tuya frames -> envelopes", () => {
  test("a property report: values unwrapped, acknowledged on report_response because sys.ack is 1", () => {
    const { messages, replies } = decodeFixture("property_report");
    expect(messages[0]).toMatchObject({
      stage: "event",
      deviceMessageId: "45lkj3551234",
      envelope: { kind: "property.report", ts: 1626197189638, data: { color: "red", cur_voltage: 2230 } },
    });
    expect(replies[0]!.topic).toBe("tylink/tuya_dev/thing/property/report_response");
    expect(parse(replies[0]!.payload)).toMatchObject({ msgId: "45lkj3551234", code: 0 });
  });

  test("scaled values come out in real units by the device's model: 2230 at scale 1 is 223 V", () => {
    expect(tuya.toReal({ cur_voltage: 2230, color: "red", foodRemaining: 5 }, model)).toEqual({ cur_voltage: 223, color: "red", foodRemaining: 5 });
    expect(compileModel(model, "feeder@1").checkPropertyReport({ cur_voltage: 223 })).toEqual([]);
    expect(tuya.toReal({ cur_voltage: 2230 }, null)).toEqual({ cur_voltage: 2230 });
  });

  test("an event trigger becomes an event report at the event's time", () => {
    const { messages, replies } = decodeFixture("event_trigger");
    expect(messages[0]!.envelope).toMatchObject({ kind: "event.report", ts: 1626197189630, data: { event: "testEvent", data: { p1: "v1" } } });
    expect(replies).toEqual([]);
  });

  test("execute_response and set_response correlate on msgId, which carries the command id", () => {
    const [reply] = decodeFixture("action_execute_response").messages;
    expect(reply).toMatchObject({
      stage: "service",
      action: "service.reply",
      envelope: { correlationId: "45lkj3551234", data: { code: 0, output: { outputParam1: "value1" } } },
    });
    const [set] = decodeFixture("property_set_response").messages;
    expect(set!.envelope).toMatchObject({ correlationId: COMMAND, data: { code: 0, output: null } });
  });

  test("a gateway's batch report speaks for itself and each sub-device, with times in seconds read as ms", () => {
    const { messages, replies } = decodeFixture("batch_report");
    expect(messages.map((m) => [m.envelope.deviceId, m.envelope.kind])).toEqual([
      ["tuya_gw", "property.report"],
      ["tuya_gw", "event.report"],
      ["tuya_sub", "property.report"],
    ]);
    expect(messages[0]!.envelope.ts).toBe(1626197189000);
    expect(messages[2]!.envelope.data).toEqual({ temp: 215 });
    expect(new Set(messages.map((m) => m.envelope.id)).size).toBe(3);
    expect(replies[0]!.topic).toBe("tylink/tuya_gw/thing/data/batch_report_response");
  });

  test("OTA progress and firmware reports (TuyaLink OTA topics) become an ota.progress event and the firmware_version property", () => {
    const frame = (topic: string, payload: unknown) => tuya.decode(rawFrame(tuya, { ...fixture("property_report"), topic, payload }));
    expect(tuya.routeTopic("tylink/tuya_dev/ota/progress/report")?.action).toBe("ota.progress");
    const progress = frame("tylink/tuya_dev/ota/progress/report", { msgId: "45lkj3551234", time: 1626197189638, data: { channel: 0, progress: 98 } });
    expect(progress.messages[0]!.envelope).toMatchObject({
      kind: "event.report",
      ts: 1626197189638,
      data: { event: "ota.progress", data: { percent: 98, state: "in_progress", channel: 0 } },
    });
    expect(progress.messages[0]!.envelope.correlationId).toBeUndefined();
    const report = frame("tylink/tuya_dev/ota/firmware/report", {
      msgId: "45lkj3551235",
      time: 1626197189638,
      data: {
        bizType: "UPDATE",
        pid: "5k8h97qska6pf",
        otaChannel: [
          { channel: 9, version: "1.0.0" },
          { channel: 0, version: "1.1.7" },
        ],
      },
    });
    expect(report.messages[0]!.envelope).toMatchObject({ kind: "property.report", data: { firmware_version: "1.1.7" } });
    expect(() => frame("tylink/tuya_dev/ota/firmware/report", { msgId: "m", data: { otaChannel: [] } })).toThrow(InvalidInputError);
  });

  test("a bad frame is refused naming what is wrong", () => {
    const bad = { ...fixture("property_report"), payload: { msgId: "x".repeat(40), data: {} } };
    expect(() => tuya.decode(rawFrame(tuya, bad))).toThrow(InvalidInputError);
  });
});

describe("commands -> Tuya frames", () => {
  test("a service call is an action execute with the command id as msgId", () => {
    const documented = fixture("action_execute").payload as { time: number; data: { actionCode: string; inputParams: Record<string, unknown> } };
    const frame = tuya.encode(
      {
        id: "m",
        ts: documented.time,
        vendor: "tuya",
        deviceId: "tuya_dev",
        kind: "service.call",
        correlationId: COMMAND,
        data: { service: documented.data.actionCode, params: documented.data.inputParams },
      },
      { definition: null, gatewayId: null },
    );
    expect(frame.topic).toBe(fixture("action_execute").topic);
    expect(parse(frame.payload)).toEqual({ ...documented, msgId: COMMAND.replaceAll("-", "") });
  });

  test("a firmware update goes out on ota/issue with the package's link, size and md5, the command id as msgId", () => {
    const params = { channel: 0, url: "http://umos/fw", size: "4496", md5: "949c276b81e0f01bf722d2c1320800f0", version: "1.1.7", upgradeType: 0, execTime: 0 };
    const frame = tuya.encode(
      { id: "m", ts: 1, vendor: "tuya", deviceId: "tuya_dev", kind: "service.call", correlationId: COMMAND, data: { service: "ota.issue", params } },
      { definition: null, gatewayId: null },
    );
    expect(frame.topic).toBe("tylink/tuya_dev/ota/issue");
    expect(parse(frame.payload)).toEqual({ msgId: COMMAND.replaceAll("-", ""), time: 1, version: "1.0", data: params });
  });

  test("a property set scales to wire values and asks for set_response", () => {
    const frame = tuya.encode(
      { id: "m", ts: 1, vendor: "tuya", deviceId: "tuya_dev", kind: "property.set", correlationId: COMMAND, data: { cur_voltage: 22.3, mode: "auto" } },
      { definition: model, gatewayId: null },
    );
    expect(frame.topic).toBe("tylink/tuya_dev/thing/property/set");
    expect(parse(frame.payload)).toEqual({ msgId: COMMAND.replaceAll("-", ""), time: 1, data: { cur_voltage: 223, mode: "auto" }, sys: { ack: 1 } });
    const documented = fixture("property_set").payload as { data: Record<string, unknown> };
    expect(
      parse(
        tuya.encode({ id: "m", ts: 1, vendor: "tuya", deviceId: "d", kind: "property.set", data: documented.data }, { definition: null, gatewayId: null })
          .payload,
      ).data,
    ).toEqual(documented.data);
  });
});

describe("Tuya thing models", () => {
  test("get_response imports: scaled values as floats in real units, string enums, ro as read-only, actions as services", () => {
    const voltage = model.properties.find((p) => p.identifier === "cur_voltage")!;
    expect(voltage).toMatchObject({ accessMode: "r", dataType: { type: "float", specs: { min: 0, max: 250, scale: 1, unit: "V" } } });
    expect(model.properties.find((p) => p.identifier === "foodRemaining")!.dataType.type).toBe("int");
    expect(model.properties.find((p) => p.identifier === "mode")).toMatchObject({
      accessMode: "rw",
      dataType: { type: "enum", specs: { auto: "auto", manual: "manual" } },
    });
    expect(model.events[0]!.outputData[0]!.dataType.type).toBe("date");
    expect(model.services[0]).toMatchObject({ identifier: "feed", inputData: [{ identifier: "portions" }] });
    const compiled = compileModel(model, "feeder@1");
    expect(compiled.checkPropertySet({ mode: "turbo" })[0]!.path).toBe("mode");
    expect(compiled.checkServiceCall("feed", { portions: 11 })[0]!.path).toBe("params.portions");
  });

  test("a document that is not a Tuya model is refused", () => {
    expect(() => tuya.importModel({ properties: [] })).toThrow(InvalidInputError);
    expect(() => tuya.importModel({ services: [{ properties: [{ code: "x", typeSpec: { type: "bitmap9" } }] }] })).toThrow("has no UMOS equivalent");
  });
});
