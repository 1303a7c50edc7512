import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { resolveWindow } from "./telemetry-window";

const limits = { maxPoints: 1000, maxRangeMs: 7 * 86_400_000 };
const now = Date.parse("2025-06-15T12:00:00Z");

describe("telemetry window", () => {
  test("defaults: the last hour up to now, in windows of 30 s (the smallest size giving at most 300)", () => {
    expect(resolveWindow({}, limits, now)).toEqual({ fromMs: now - 3_600_000, toMs: now, everyMs: 30_000, every: "30s" });
  });

  test("from and to as RFC 3339 or ms since the epoch; every as an InfluxQL duration", () => {
    expect(resolveWindow({ from: "2025-06-15T10:00:00Z", to: String(now), every: "15m" }, limits, now)).toEqual({
      fromMs: now - 7_200_000,
      toMs: now,
      everyMs: 900_000,
      every: "15m",
    });
  });

  test("refused with the way out: an empty or reversed range, a range over the limit, too many windows, an unreadable time", () => {
    const refusal = (request: Parameters<typeof resolveWindow>[0]) => {
      try {
        resolveWindow(request, limits, now);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        return { code: (err as InvalidInputError).code, message: (err as Error).message };
      }
      throw new Error("accepted");
    };
    expect(refusal({ from: String(now), to: String(now) }).code).toBe("invalid_range");
    expect(refusal({ from: "2025-06-01T00:00:00Z" })).toEqual({
      code: "range_too_long",
      message: "the range is 14.5 days; at most 7 days (timeseries.maxQueryRangeDays)",
    });
    expect(refusal({ every: "1s" }).message).toBe("every=1s gives up to 3601 windows over this range; at most 1000: choose a larger every or a shorter range");
    expect(refusal({ every: "0s" }).code).toBe("invalid_every");
    expect(refusal({ from: "yesterday" }).message).toBe("from: 'yesterday' is neither an RFC 3339 date-time nor ms since the epoch");
  });
});
