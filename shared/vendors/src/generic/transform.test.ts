import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { decode, encode, routeTopic } from "./transform";

const frame = (action: string, body: unknown, over: Partial<{ deviceId: string; receivedAt: number }> = {}) => ({
  deviceId: over.deviceId ?? "dev-1",
  action,
  topic: `generic/dev-1/${action.replace(".", "/")}`,
  payload: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
  messageId: "0190-msg",
  receivedAt: over.receivedAt ?? 1_000,
});

describe("generic topics", () => {
  test("device->cloud topics map to a device and an action; others do not", () => {
    expect(routeTopic("generic/dev-1/property/report")).toEqual({ vendor: "generic", deviceId: "dev-1", action: "property.report" });
    expect(routeTopic("generic/dev.1/status")).toEqual({ vendor: "generic", deviceId: "dev.1", action: "status" });
    expect(routeTopic("generic/dev-1/service/call")).toBeUndefined();
    expect(routeTopic("generic//status")).toBeUndefined();
    expect(routeTopic("thing/product/sn/osd")).toBeUndefined();
  });
});

describe("generic frames -> envelopes", () => {
  test("a property report keeps the device's ts and id", () => {
    const [m] = decode(frame("property.report", { id: "r1", ts: 5, data: { t: 1 } })).messages;
    expect(m).toEqual({
      stage: "event",
      action: "property.report",
      deviceMessageId: "r1",
      envelope: { id: "0190-msg", ts: 5, vendor: "generic", deviceId: "dev-1", kind: "property.report", data: { t: 1 } },
    });
  });

  test("without ts the receipt time stands in", () => {
    expect(decode(frame("property.report", { data: {} })).messages[0]!.envelope.ts).toBe(1_000);
  });

  test("an event report, a reply and a status frame", () => {
    expect(decode(frame("event.report", { event: "door", data: { open: true } })).messages[0]!.envelope).toMatchObject({
      kind: "event.report",
      data: { event: "door", data: { open: true } },
    });
    const progress = decode(frame("event.report", { event: "ota.progress", correlationId: "cmd-1", data: { percent: 50, state: "downloading" } }));
    expect(progress.messages[0]!.envelope).toMatchObject({ correlationId: "cmd-1", data: { event: "ota.progress", data: { percent: 50 } } });
    const [reply] = decode(frame("service.reply", { correlationId: "c", code: 3 })).messages;
    expect(reply).toMatchObject({ stage: "service", action: "service.reply", envelope: { correlationId: "c", data: { code: 3, output: null } } });
    expect(decode(frame("status", { state: "offline" })).messages[0]).toMatchObject({
      stage: "event",
      action: "status.offline",
      envelope: { kind: "status.offline" },
    });
  });

  test("bad frames are permanent errors naming what is wrong", () => {
    const err = (body: unknown, action = "property.report") => {
      try {
        decode(frame(action, body));
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidInputError);
        return `${(e as InvalidInputError).code}: ${(e as Error).message}`;
      }
      throw new Error("expected an error");
    };
    expect(err("{")).toStartWith("malformed_json");
    expect(err({ data: [1] })).toBe("invalid_frame: generic property.report frame: /data: Expected object");
    expect(err({ data: {}, ts: "yesterday" })).toStartWith("invalid_frame: generic property.report frame: /ts");
    expect(err({ state: "sleeping" }, "status")).toStartWith("invalid_frame");
    expect(err({ code: 0 }, "service.reply")).toContain("/correlationId");
  });
});

describe("envelopes -> generic frames", () => {
  test("a service call and a property set go to the device's topics with the correlation id", () => {
    const call = encode({
      id: "m",
      ts: 9,
      vendor: "generic",
      deviceId: "d",
      kind: "service.call",
      correlationId: "c1",
      data: { service: "reboot", params: { delay: 1 } },
    });
    expect(call.topic).toBe("generic/d/service/call");
    expect(JSON.parse(Buffer.from(call.payload).toString())).toEqual({ correlationId: "c1", service: "reboot", params: { delay: 1 }, ts: 9 });
    const set = encode({ id: "m", ts: 9, vendor: "generic", deviceId: "d", kind: "property.set", correlationId: "c2", data: { power: true } });
    expect(set.topic).toBe("generic/d/property/set");
    expect(JSON.parse(Buffer.from(set.payload).toString())).toEqual({ correlationId: "c2", data: { power: true }, ts: 9 });
  });

  test("a kind the device cannot take is refused", () => {
    expect(() => encode({ id: "m", ts: 0, vendor: "generic", deviceId: "d", kind: "event.report", data: {} })).toThrow(InvalidInputError);
  });
});

describe("generic frames that could not be stored", () => {
  test("a ts past 2262 is refused: as a Date it failed the message-log write (1e300) or every InfluxDB write of its batch", () => {
    expect(() => decode(frame("property.report", { ts: 1e300, data: {} }))).toThrow("/ts");
    expect(() => decode(frame("property.report", { ts: 9_300_000_000_000, data: {} }))).toThrow(InvalidInputError);
    expect(decode(frame("property.report", { ts: 9_000_000_000_000, data: {} })).messages[0]!.envelope.ts).toBe(9_000_000_000_000);
  });
});
