import { describe, expect, test } from "bun:test";
import type { Envelope } from "@umos/contracts";
import { reportPoints } from "./points";
import type { Aggregate, TimeSeries, WindowQuery } from "./types";

/**
 * What every time series answers alike (docs/telemetry.md): the same reports written, the same
 * windows, counts, lists and exports read back. influx.test.ts and postgres.test.ts run it, each
 * against its real server; `open` gives a store on a database of the test file's own; each case uses devices of its own.
 */
export function timeSeriesContract(open: () => TimeSeries): void {
  const t0 = 1_750_000_000_000 - (1_750_000_000_000 % 3_600_000); // an hour boundary, where windows start
  const report = (deviceId: string, ts: number, data: Record<string, unknown>): Envelope => ({
    id: `${deviceId}-${ts}`,
    ts,
    vendor: "generic",
    deviceId,
    kind: "property.report",
    data,
  });
  const event = (deviceId: string, ts: number, name: string, data: unknown = { level: 1 }): Envelope => ({
    id: `${deviceId}-${name}-${ts}`,
    ts,
    vendor: "generic",
    deviceId,
    kind: "event.report",
    data: { event: name, data },
  });
  const write = (store: TimeSeries, ...reports: Envelope[]) => store.write(reports.flatMap((r) => reportPoints(r, "thermostat")));
  const minutes = (deviceId: string, fn: Aggregate, property = "temperature"): WindowQuery => ({
    deviceId,
    property,
    fromMs: t0,
    toMs: t0 + 3 * 60_000,
    everyMs: 60_000,
    fn,
  });

  describe("aggregated windows", () => {
    test("mean, min, max, first, last, sum, count and spread per window, windows without data left out", async () => {
      const store = open();
      // minute 0: 20, 22, 24; minute 1: nothing; minute 2: 30
      await write(
        store,
        report("q-1", t0, { temperature: 20 }),
        report("q-1", t0 + 10_000, { temperature: 22 }),
        report("q-1", t0 + 20_000, { temperature: 24 }),
      );
      await write(store, report("q-1", t0 + 120_000, { temperature: 30 }));
      const expected: Record<Aggregate, [number, number]> = {
        mean: [22, 30],
        min: [20, 30],
        max: [24, 30],
        last: [24, 30],
        count: [3, 1],
        first: [20, 30],
        sum: [66, 30],
        spread: [4, 0],
      };
      for (const [fn, [first, third]] of Object.entries(expected)) {
        expect({ fn, windows: await store.windows(minutes("q-1", fn as Aggregate)) }).toEqual({
          fn,
          windows: [
            { ts: t0, value: first },
            { ts: t0 + 120_000, value: third },
          ],
        });
      }
    });

    test("several properties in one query: each its own windows, in the order asked, one without data empty", async () => {
      const store = open();
      await write(
        store,
        report("q-7", t0, { temperature: 20, humidity: 40, battery: { capacity_percent: 90 } }),
        report("q-7", t0 + 60_000, { temperature: 22, battery: { capacity_percent: 89 } }),
        report("q-8", t0, { humidity: 99 }),
      );
      const answer = await store.series({ ...minutes("q-7", "max"), properties: ["humidity", "nothing", "battery.capacity_percent", "temperature"] });
      expect(answer).toEqual([
        { property: "humidity", windows: [{ ts: t0, value: 40 }] },
        { property: "nothing", windows: [] },
        {
          property: "battery.capacity_percent",
          windows: [
            { ts: t0, value: 90 },
            { ts: t0 + 60_000, value: 89 },
          ],
        },
        {
          property: "temperature",
          windows: [
            { ts: t0, value: 20 },
            { ts: t0 + 60_000, value: 22 },
          ],
        },
      ]);
    });

    test("from is inclusive and to exclusive; other devices and properties stay out", async () => {
      const store = open();
      await write(
        store,
        report("q-2", t0, { temperature: 10, humidity: 50 }),
        report("q-2", t0 + 60_000, { temperature: 99 }),
        report("q-3", t0, { temperature: 70 }),
      );
      expect(await store.windows({ ...minutes("q-2", "mean"), toMs: t0 + 60_000 })).toEqual([{ ts: t0, value: 10 }]);
    });

    test("windows are aligned to multiples of every since the epoch, whatever the range's start; a range cut mid-window counts only its part", async () => {
      const store = open();
      await write(
        store,
        report("q-9", t0 + 5 * 60_000, { temperature: 1 }),
        report("q-9", t0 + 50 * 60_000, { temperature: 2 }),
        report("q-9", t0 + 70 * 60_000, { temperature: 4 }),
      );
      const hourly = { deviceId: "q-9", property: "temperature", everyMs: 3_600_000, fn: "sum" as const };
      expect(await store.windows({ ...hourly, fromMs: t0 + 30 * 60_000, toMs: t0 + 2 * 3_600_000 })).toEqual([
        { ts: t0, value: 2 },
        { ts: t0 + 3_600_000, value: 4 },
      ]);
      expect(await store.windows({ ...hourly, fromMs: t0, toMs: t0 + 2 * 3_600_000 })).toEqual([
        { ts: t0, value: 3 },
        { ts: t0 + 3_600_000, value: 4 },
      ]);
    });

    test("booleans aggregate as 1 and 0: the mean is the share of reports that were true", async () => {
      const store = open();
      await write(
        store,
        report("q-4", t0, { heating: true }),
        report("q-4", t0 + 1000, { heating: false }),
        report("q-4", t0 + 2000, { heating: true }),
        report("q-4", t0 + 3000, { heating: true }),
      );
      expect(await store.windows(minutes("q-4", "mean", "heating"))).toEqual([{ ts: t0, value: 0.75 }]);
    });

    test("text values are not counted in a property's numeric windows", async () => {
      const store = open();
      await write(store, report("q-10", t0, { mode: "eco" }), report("q-10", t0 + 1000, { mode: 3 }));
      expect(await store.windows(minutes("q-10", "count", "mode"))).toEqual([{ ts: t0, value: 1 }]);
    });

    test("a name is data, never the query's language", async () => {
      const store = open();
      await write(store, report("q-5", t0, { "it's": 5 }));
      expect(await store.windows(minutes("q-5", "mean", "it's"))).toEqual([{ ts: t0, value: 5 }]);
      expect(await store.windows(minutes("q-5", "mean", "x' OR '1'='1"))).toEqual([]);
    });

    test("a message written twice (a redelivery) is still one point: same device, name and timestamp", async () => {
      const store = open();
      const once = report("q-6", t0 + 5000, { temperature: 21.5 });
      await write(store, once);
      await write(store, once);
      expect(await store.windows(minutes("q-6", "count"))).toEqual([{ ts: t0, value: 1 }]);
    });
  });

  describe("events", () => {
    const counts = (store: TimeSeries, deviceId: string, events: string[], maxEvents = 10) =>
      store.eventCounts({ deviceId, events, maxEvents, fromMs: t0, toMs: t0 + 3 * 60_000, everyMs: 60_000 });

    test("occurrences per window and event name: every name in name order, or the names asked in their order", async () => {
      const store = open();
      // minute 0: door twice, alarm once; minute 2: door once; another device's door stays out
      await write(store, event("e-1", t0, "door"), event("e-1", t0 + 1000, "door"), event("e-1", t0 + 2000, "alarm"), event("e-1", t0 + 120_000, "door"));
      await write(store, event("e-2", t0, "door"));
      expect(await counts(store, "e-1", [])).toEqual({
        series: [
          { event: "alarm", windows: [{ ts: t0, value: 1 }] },
          {
            event: "door",
            windows: [
              { ts: t0, value: 2 },
              { ts: t0 + 120_000, value: 1 },
            ],
          },
        ],
        more: false,
      });
      expect(await counts(store, "e-1", ["door", "smoke"])).toEqual({
        series: [
          {
            event: "door",
            windows: [
              { ts: t0, value: 2 },
              { ts: t0 + 120_000, value: 1 },
            ],
          },
          { event: "smoke", windows: [] },
        ],
        more: false,
      });
    });

    test("without names asked, at most maxEvents names, and whether there were more", async () => {
      const store = open();
      await write(store, event("e-3", t0, "a"), event("e-3", t0, "b"), event("e-3", t0, "c"));
      const answer = await counts(store, "e-3", [], 2);
      expect(answer.series.map((s) => s.event)).toEqual(["a", "b"]);
      expect(answer.more).toBe(true);
      expect((await counts(store, "e-3", [], 3)).more).toBe(false);
    });

    test("the event list: newest first, with each occurrence's data, at most limit", async () => {
      const store = open();
      await write(
        store,
        event("e-4", t0, "door", { open: true }),
        event("e-4", t0 + 1000, "alarm", { level: 2 }),
        event("e-4", t0 + 2000, "door", { open: false }),
      );
      const range = { deviceId: "e-4", fromMs: t0, toMs: t0 + 60_000, series: "event" as const };
      expect(await store.points({ ...range, names: [], limit: 2 })).toEqual([
        { ts: t0 + 2000, name: "door", value: null, text: '{"open":false}' },
        { ts: t0 + 1000, name: "alarm", value: null, text: '{"level":2}' },
      ]);
      expect(await store.points({ ...range, names: ["door"], limit: 10 })).toEqual([
        { ts: t0 + 2000, name: "door", value: null, text: '{"open":false}' },
        { ts: t0, name: "door", value: null, text: '{"open":true}' },
      ]);
    });
  });

  describe("stored values", () => {
    test("a property's last values, text and numbers alike, newest first", async () => {
      const store = open();
      await write(store, report("v-1", t0, { mode: "eco", level: 1 }), report("v-1", t0 + 1000, { mode: "boost", tags: ["a", "b"] }));
      expect(await store.points({ deviceId: "v-1", fromMs: t0, toMs: t0 + 60_000, series: "property", names: ["mode", "tags", "level"], limit: 10 })).toEqual([
        { ts: t0 + 1000, name: "mode", value: null, text: "boost" },
        { ts: t0 + 1000, name: "tags", value: null, text: '["a","b"]' },
        { ts: t0, name: "level", value: 1, text: null },
        { ts: t0, name: "mode", value: null, text: "eco" },
      ]);
    });

    test("an export reads every value of the range in time order, then name order, past any one page", async () => {
      const store = open();
      // 12,000 seconds of two properties: more than a page of either.
      const reports = Array.from({ length: 12_000 }, (_, i) => report("x-1", t0 + i * 1000, { b: i, a: i % 2 === 0 ? "even" : "odd" }));
      for (let i = 0; i < reports.length; i += 2000) await write(store, ...reports.slice(i, i + 2000));
      await write(store, report("x-2", t0, { b: -1 }));
      const seen: { ts: number; name: string; value: number | null; text: string | null }[] = [];
      let batches = 0;
      for await (const batch of store.export({ deviceId: "x-1", fromMs: t0, toMs: t0 + 12_000_000, series: "property", names: [] })) {
        batches++;
        seen.push(...batch);
      }
      expect(batches).toBeGreaterThan(1);
      expect(seen.length).toBe(24_000);
      expect(seen.slice(0, 3)).toEqual([
        { ts: t0, name: "a", value: null, text: "even" },
        { ts: t0, name: "b", value: 0, text: null },
        { ts: t0 + 1000, name: "a", value: null, text: "odd" },
      ]);
      expect(seen.every((v, i) => i === 0 || v.ts > seen[i - 1]!.ts || (v.ts === seen[i - 1]!.ts && v.name > seen[i - 1]!.name))).toBe(true);
      const only = [];
      for await (const batch of store.export({ deviceId: "x-1", fromMs: t0 + 1000, toMs: t0 + 3000, series: "property", names: ["b"] })) only.push(...batch);
      expect(only).toEqual([
        { ts: t0 + 1000, name: "b", value: 1, text: null },
        { ts: t0 + 2000, name: "b", value: 2, text: null },
      ]);
    }, 60_000);

    test("deleting a device deletes its points, properties and events, and no other device's", async () => {
      const store = open();
      await write(store, report("d-1", t0, { temperature: 1 }), event("d-1", t0, "door"), report("d-2", t0, { temperature: 2 }));
      await store.deleteDevice("d-1");
      expect(await store.windows(minutes("d-1", "count"))).toEqual([]);
      expect((await store.eventCounts({ deviceId: "d-1", events: [], maxEvents: 10, fromMs: t0, toMs: t0 + 60_000, everyMs: 60_000 })).series).toEqual([]);
      expect(await store.windows(minutes("d-2", "count"))).toEqual([{ ts: t0, value: 1 }]);
    });
  });
}
