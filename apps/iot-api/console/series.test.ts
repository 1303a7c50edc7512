import { afterEach, expect, test } from "bun:test";
import type { Envelope, SeriesAnswer } from "./api";
import { answerCaption, answerSeries, answerSpan, customRange, localInput, localToRfc3339, presetRange, reportSeries } from "./series";

const zone = process.env.TZ;
afterEach(() => {
  process.env.TZ = zone;
});

const now = Date.parse("2025-06-15T12:00:00.000Z");

test("a preset is a range ending now; anything else is no preset", () => {
  expect(presetRange("1h", now)).toEqual({ from: "2025-06-15T11:00:00.000Z", to: "2025-06-15T12:00:00.000Z" });
  expect(presetRange("6h", now)).toEqual({ from: "2025-06-15T06:00:00.000Z", to: "2025-06-15T12:00:00.000Z" });
  expect(presetRange("24h", now)?.from).toBe("2025-06-14T12:00:00.000Z");
  expect(presetRange("7d", now)?.from).toBe("2025-06-08T12:00:00.000Z");
  expect(presetRange("30d", now)?.from).toBe("2025-05-16T12:00:00.000Z");
  expect(presetRange("custom", now)).toBeNull();
});

test("a datetime-local value is local time, sent as UTC", () => {
  process.env.TZ = "Asia/Kolkata";
  expect(localToRfc3339("2025-06-15T14:30")).toBe("2025-06-15T09:00:00.000Z");
  expect(localToRfc3339("2025-06-15T14:30:15")).toBe("2025-06-15T09:00:15.000Z");
  process.env.TZ = "America/New_York";
  // Summer and winter time: the offset is the one of that date, not of today.
  expect(localToRfc3339("2025-07-01T00:00")).toBe("2025-07-01T04:00:00.000Z");
  expect(localToRfc3339("2025-01-01T00:00")).toBe("2025-01-01T05:00:00.000Z");
  for (const bad of ["", "2025-06-15", "2025-06-15T14:30Z", "2025-06-15 14:30", "2025-13-01T00:00"]) expect(localToRfc3339(bad)).toBeNull();
});

test("a time is shown in a datetime-local input as local time, to the minute, and reads back the same", () => {
  process.env.TZ = "Asia/Kolkata";
  expect(localInput("2025-06-15T09:00:42.123Z")).toBe("2025-06-15T14:30");
  expect(localToRfc3339(localInput("2025-06-15T09:00:00.000Z"))).toBe("2025-06-15T09:00:00.000Z");
});

test("a custom range needs both ends", () => {
  process.env.TZ = "UTC";
  expect(customRange("2025-06-15T10:00", "2025-06-15T12:00")).toEqual({ from: "2025-06-15T10:00:00.000Z", to: "2025-06-15T12:00:00.000Z" });
  expect(customRange("2025-06-15T10:00", "")).toBeNull();
  expect(customRange("", "2025-06-15T12:00")).toBeNull();
});

const answer: SeriesAnswer = {
  deviceId: "d1",
  fn: "mean",
  every: "5m",
  from: "2025-06-15T06:00:00.000Z",
  to: "2025-06-15T12:00:00.000Z",
  series: [
    {
      property: "temperature",
      points: [
        { ts: "2025-06-15T06:05:00.000Z", value: 21.5 },
        { ts: "2025-06-15T06:00:00.000Z", value: 21 },
      ],
    },
    { property: "humidity", points: [] },
  ],
};

test("a series answer becomes one chart per property asked, in that order, points in time order", () => {
  expect(answerSeries(answer, ["humidity", "temperature", "battery.capacity_percent"])).toEqual([
    { property: "humidity", points: [] },
    {
      property: "temperature",
      points: [
        { ts: Date.parse("2025-06-15T06:00:00.000Z"), value: 21 },
        { ts: Date.parse("2025-06-15T06:05:00.000Z"), value: 21.5 },
      ],
    },
    { property: "battery.capacity_percent", points: [] },
  ]);
  expect(answerSpan(answer)).toEqual({ from: Date.parse(answer.from), to: Date.parse(answer.to) });
});

test("the caption names the aggregate, the window and whether live values follow", () => {
  expect(answerCaption(answer, true)).toContain("mean per 5m from ");
  expect(answerCaption(answer, true)).toEndWith(", then live values.");
  expect(answerCaption(answer, false)).not.toContain("live");
});

test("without a time series, the message log's reports are charted per property", () => {
  const report = (ts: string, data: unknown): Envelope => ({ id: ts, ts, vendor: "generic", deviceId: "d1", kind: "property.report", data });
  const reports = [
    report("2025-06-15T11:00:00.000Z", { temperature: 21, battery: { capacity_percent: 80 } }),
    report("2025-06-15T11:01:00.000Z", { mode: "eco" }),
  ];
  expect(reportSeries(reports, ["battery.capacity_percent", "temperature", "humidity"])).toEqual([
    { property: "battery.capacity_percent", points: [{ ts: Date.parse("2025-06-15T11:00:00.000Z"), value: 80 }] },
    { property: "temperature", points: [{ ts: Date.parse("2025-06-15T11:00:00.000Z"), value: 21 }] },
    { property: "humidity", points: [] },
  ]);
});
