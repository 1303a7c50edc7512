import { describe, expect, test } from "bun:test";
import { KINDS } from "@umos/contracts";
import djiServicesReply from "../../vendors/src/dji/fixtures/services_reply.json";
import djiSetReply from "../../vendors/src/dji/fixtures/property_set_reply.json";
import tuyaExecuteResponse from "../../vendors/src/tuya/fixtures/action_execute_response.json";
import { answerOf, FAILING_SERVICE, type DeviceBehaviour, type Frame } from "./behaviour";
import { aircraftOf, djiDock } from "./dji";
import { genericDevice } from "./generic";
import { COMMAND_ID, command, decode } from "./test/platform";
import { tuyaPlug } from "./tuya";

/**
 * The device's answers to a command, decoded: the service reply first, then whatever it reports. An
 * answer must carry the command's id back (docs/interfaces.md: Command lifecycle), as the vendors'
 * example frames do.
 */
function answer(device: DeviceBehaviour, frame: Frame) {
  expect(device.subscriptions).toContain(frame.topic);
  return answerOf(device.receive(frame.topic, frame.payload)).frames.map((out) => ({ out, decoded: decode(out) }));
}

const keys = (value: unknown) => Object.keys(value as object).sort();
const body = (frame: Frame) => JSON.parse(frame.payload);

describe("generic device", () => {
  const device = genericDevice("thermo-1");

  test("is born online, has a last will, reports properties and events the uplink accepts", () => {
    expect(decode(device.announce()[0]!).messages[0]!.envelope).toMatchObject({ kind: KINDS.statusOnline, deviceId: "thermo-1" });
    expect(decode(device.will!).messages[0]!.envelope.kind).toBe(KINDS.statusOffline);
    const [report] = decode(device.report()[0]!).messages;
    expect(report!.envelope).toMatchObject({ kind: KINDS.propertyReport, data: { temperature: expect.any(Number), humidity: expect.any(Number) } });
    // Its own id on every frame: what makes a resent frame recognisable (docs/interfaces.md: Generic).
    expect(report!.deviceMessageId).toBeString();
    expect(decode(device.report()[0]!).messages[0]!.deviceMessageId).not.toBe(report!.deviceMessageId);
    expect(decode(device.event()[0]!).messages[0]!.envelope).toMatchObject({ kind: KINDS.eventReport, data: { event: "window_open" } });
  });

  test("answers a service call on service/reply with its correlationId and code 0", () => {
    const [reply] = answer(device, command("generic", "thermo-1", KINDS.serviceCall, { service: "boost", params: { minutes: 30 } }));
    expect(reply!.out.topic).toBe("generic/thermo-1/service/reply");
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({
      kind: KINDS.serviceReply,
      correlationId: COMMAND_ID,
      data: { code: 0, output: { service: "boost", params: { minutes: 30 } } },
    });
  });

  test("refuses the service named 'fail' with a non-zero code", () => {
    const [reply] = answer(device, command("generic", "thermo-1", KINDS.serviceCall, { service: FAILING_SERVICE }));
    expect(reply!.decoded.messages[0]!.envelope.data).toMatchObject({ code: 1 });
  });

  test("answers a property set, then reports the value it now has", () => {
    const [reply, report] = answer(device, command("generic", "thermo-1", KINDS.propertySet, { target: 23 }));
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
    expect(report!.decoded.messages[0]!.envelope).toMatchObject({ kind: KINDS.propertyReport, data: { target: 23 } });
    expect(decode(device.report()[0]!).messages[0]!.envelope.data).toMatchObject({ target: 23 });
  });
});

describe("DJI dock", () => {
  const device = djiDock("dock-1");
  const aircraft = aircraftOf("dock-1");

  test("announces its aircraft with update_topo, which the platform answers on status_reply", () => {
    const decoded = decode(device.announce()[0]!);
    expect(decoded.messages[0]!.envelope).toMatchObject({ kind: KINDS.statusOnline, data: { subDevices: [aircraft] } });
    expect(decoded.replies[0]!.topic).toBe("sys/product/dock-1/status_reply");
    expect(device.subscriptions).toContain(decoded.replies[0]!.topic);
  });

  test("reports osd for itself and, once the platform answered its update_topo, for its aircraft through its connection", () => {
    expect(device.report().map((f) => decode(f).messages[0]!.envelope.deviceId)).toEqual(["dock-1"]);
    const [reply] = decode(device.announce()[0]!).replies;
    expect(answer(device, { topic: reply!.topic, payload: Buffer.from(reply!.payload).toString() })).toEqual([]);
    const [dock, drone] = device.report().map((f) => decode(f).messages[0]!.envelope);
    expect(dock).toMatchObject({ deviceId: "dock-1", kind: KINDS.propertyReport, data: { drone_in_dock: 1 } });
    expect(drone).toMatchObject({ deviceId: aircraft, data: { battery: { capacity_percent: expect.any(Number) } } });
  });

  test("raises hms events that ask for a reply", () => {
    const decoded = decode(device.event()[0]!);
    expect(decoded.messages[0]!.envelope.data).toMatchObject({ event: "hms" });
    expect(device.subscriptions).toContain(decoded.replies[0]!.topic);
  });

  test("answers services on services_reply with tid, bid and method echoed, shaped like DJI's example", () => {
    const call = command("dji", "dock-1", KINDS.serviceCall, { service: "cover_open" });
    const [reply] = answer(device, call);
    expect(reply!.out.topic).toBe("thing/product/dock-1/services_reply");
    expect(keys(body(reply!.out))).toEqual(keys(djiServicesReply.payload));
    expect(body(reply!.out)).toMatchObject({ tid: COMMAND_ID, bid: COMMAND_ID, method: "cover_open", data: { result: 0, output: { status: "ok" } } });
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
  });

  test("takes its aircraft's commands on its own topic", () => {
    const [reply] = answer(device, command("dji", aircraft, KINDS.serviceCall, { service: "return_home" }, "dock-1"));
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
  });

  test("answers a property set with a result per property, then reports the new state", () => {
    const [reply, state] = answer(device, command("dji", "dock-1", KINDS.propertySet, { night_lights_state: 1 }));
    expect(reply!.out.topic).toBe("thing/product/dock-1/property/set_reply");
    expect(keys(body(reply!.out))).toEqual(keys(djiSetReply.payload));
    expect(body(reply!.out).data).toEqual({ night_lights_state: { result: 0 } });
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
    expect(state!.decoded.messages[0]!.envelope.data).toEqual({ night_lights_state: 1 });
  });

  test("fails the service named 'fail'", () => {
    const [reply] = answer(device, command("dji", "dock-1", KINDS.serviceCall, { service: FAILING_SERVICE }));
    expect(reply!.decoded.messages[0]!.envelope.data).toMatchObject({ code: 1 });
  });
});

describe("Tuya plug", () => {
  const device = tuyaPlug("plug-1");

  test("reports {value, time} with sys.ack, and the platform's report_response is one it listens for", () => {
    const decoded = decode(device.report()[0]!);
    expect(decoded.messages[0]!.envelope).toMatchObject({ kind: KINDS.propertyReport, data: { switch: true, cur_power: expect.any(Number) } });
    expect(device.subscriptions).toContain(decoded.replies[0]!.topic);
    expect(decode(device.announce()[0]!).messages[0]!.envelope.kind).toBe(KINDS.propertyReport);
  });

  test("triggers events the platform acknowledges", () => {
    const decoded = decode(device.event()[0]!);
    expect(decoded.messages[0]!.envelope).toMatchObject({ kind: KINDS.eventReport, data: { event: "overload" } });
    expect(device.subscriptions).toContain(decoded.replies[0]!.topic);
  });

  test("answers action/execute on execute_response with the msgId echoed, shaped like Tuya's example", () => {
    const [reply] = answer(device, command("tuya", "plug-1", KINDS.serviceCall, { service: "countdown", params: { seconds: 60 } }));
    expect(reply!.out.topic).toBe("tylink/plug-1/thing/action/execute_response");
    expect(keys(body(reply!.out))).toEqual(keys(tuyaExecuteResponse.payload));
    expect(body(reply!.out)).toMatchObject({ msgId: COMMAND_ID.replaceAll("-", ""), code: 0, data: { actionCode: "countdown" } });
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
  });

  test("answers a property set on set_response, then reports the new value", () => {
    const [reply, report] = answer(device, command("tuya", "plug-1", KINDS.propertySet, { switch: false }));
    expect(reply!.out.topic).toBe("tylink/plug-1/thing/property/set_response");
    expect(reply!.decoded.messages[0]!.envelope).toMatchObject({ correlationId: COMMAND_ID, data: { code: 0 } });
    expect(report!.decoded.messages[0]!.envelope.data).toEqual({ switch: false });
  });

  test("fails the action named 'fail'", () => {
    const [reply] = answer(device, command("tuya", "plug-1", KINDS.serviceCall, { service: FAILING_SERVICE }));
    expect(reply!.decoded.messages[0]!.envelope.data).toMatchObject({ code: 1 });
  });
});

test("a device ignores frames it cannot read instead of crashing", () => {
  for (const device of [genericDevice("g"), djiDock("d"), tuyaPlug("t")]) {
    for (const topic of device.subscriptions) {
      expect(device.receive(topic, "not json")).toEqual([]);
      expect(device.receive(topic, "[]")).toEqual([]);
    }
  }
});
