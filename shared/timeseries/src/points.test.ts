import { describe, expect, test } from "bun:test";
import type { Envelope } from "@umos/contracts";
import { toInfluxPoint } from "./influx-writer";
import { reportPoints } from "./points";

const envelope = (kind: string, data: unknown): Envelope => ({ id: "m-1", ts: 1_750_000_000_123, vendor: "generic", deviceId: "thermo 1", kind, data });
/** As InfluxDB gets them: line protocol with the ms timestamps as they are (the writer's WriteApi does the same at precision ms). */
const lines = (e: Envelope, model: string | null = "thermostat") =>
  reportPoints(e, model).map((p) => toInfluxPoint(p).toLineProtocol({ convertTime: (t) => String(t) }));

describe("property reports", () => {
  test("one point per property: numbers and booleans in value, strings in text, tagged with device, vendor, model and property", () => {
    expect(lines(envelope("property.report", { temperature: 21.5, heating: true, window: false, mode: "eco", level: 3 }))).toEqual([
      "device_property,device=thermo\\ 1,model=thermostat,property=temperature,vendor=generic value=21.5 1750000000123",
      "device_property,device=thermo\\ 1,model=thermostat,property=heating,vendor=generic value=1 1750000000123",
      "device_property,device=thermo\\ 1,model=thermostat,property=window,vendor=generic value=0 1750000000123",
      'device_property,device=thermo\\ 1,model=thermostat,property=mode,vendor=generic text="eco" 1750000000123',
      "device_property,device=thermo\\ 1,model=thermostat,property=level,vendor=generic value=3 1750000000123",
    ]);
  });

  test("nested objects become dotted paths (a DJI aircraft's battery.capacity_percent), arrays and deeper levels JSON text", () => {
    const points = lines(envelope("property.report", { battery: { capacity_percent: 87, cells: [3.9, 4.0] }, a: { b: { c: { d: { e: 1 } } } } }), null);
    expect(points).toEqual([
      "device_property,device=thermo\\ 1,property=battery.capacity_percent,vendor=generic value=87 1750000000123",
      'device_property,device=thermo\\ 1,property=battery.cells,vendor=generic text="[3.9,4]" 1750000000123',
      'device_property,device=thermo\\ 1,property=a.b.c.d,vendor=generic text="{\\"e\\":1}" 1750000000123',
    ]);
  });

  test("a null reports no value; a number JSON cannot hold as a float is kept as text, not refused", () => {
    expect(lines(envelope("property.report", { gone: null, huge: JSON.parse("1e400") }))).toEqual([
      'device_property,device=thermo\\ 1,model=thermostat,property=huge,vendor=generic text="Infinity" 1750000000123',
    ]);
  });

  test("the same message gives the same points: a redelivery overwrites rather than adds", () => {
    const report = envelope("property.report", { temperature: 21.5, mode: "eco" });
    expect(lines(report)).toEqual(lines(structuredClone(report)));
  });
});

describe("event reports and other kinds", () => {
  test("an event is one point: value 1 to count by, its data as JSON, its name as a tag", () => {
    expect(lines(envelope("event.report", { event: "window_open", data: { room: "kitchen" } }))).toEqual([
      'device_event,device=thermo\\ 1,event=window_open,model=thermostat,vendor=generic data="{\\"room\\":\\"kitchen\\"}",value=1 1750000000123',
    ]);
  });

  test("status changes and command statuses carry no telemetry", () => {
    expect(reportPoints(envelope("status.online", { state: "online" }), null)).toEqual([]);
    expect(reportPoints(envelope("command.status", { status: "acked" }), null)).toEqual([]);
  });
});
