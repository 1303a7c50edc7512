import { expect, test } from "bun:test";
import { type Envelope, KINDS } from "@umos/contracts";
import { inputOf } from "./input";

const envelope = (kind: string, data: unknown): Envelope => ({ id: "e-1", ts: 1_667_220_918_000, vendor: "dji", deviceId: "dock_sn", kind, data });

test("the kinds a rule reads become inputs at the envelope's device time", () => {
  const ts = 1_667_220_918_000;
  expect(inputOf(envelope(KINDS.propertyReport, { battery: 87 }))).toEqual({ kind: "property", ts, data: { battery: 87 } });
  expect(inputOf(envelope(KINDS.eventReport, { event: "hms", data: { list: [] } }))).toEqual({ kind: "event", ts, name: "hms", data: { list: [] } });
  expect(inputOf(envelope(KINDS.eventReport, { event: "door" }))).toEqual({ kind: "event", ts, name: "door", data: {} });
  expect(inputOf(envelope(KINDS.statusOnline, { reason: "connect" }))).toEqual({ kind: "presence", ts, online: true });
  expect(inputOf(envelope(KINDS.statusOffline, null))).toEqual({ kind: "presence", ts, online: false });
  expect(inputOf(envelope(KINDS.commandStatus, { commandId: "c-9", status: "failed", output: null, reason: "busy" }))).toEqual({
    kind: "command",
    ts,
    status: "failed",
    command: "c-9",
  });
});

test("other kinds and data of the wrong shape are not inputs", () => {
  expect(inputOf(envelope(KINDS.alarmRaised, {}))).toBeNull();
  expect(inputOf(envelope(KINDS.serviceReply, {}))).toBeNull();
  expect(inputOf(envelope(KINDS.propertyReport, [1, 2]))).toBeNull();
  expect(inputOf(envelope(KINDS.eventReport, { data: {} }))).toBeNull();
  expect(inputOf(envelope(KINDS.commandStatus, { commandId: "c-9" }))).toBeNull();
});
