import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Envelope } from "@umos/contracts";
import { UnavailableError } from "@umos/core";
import { createInfluxDatabase, freePort, type TestInfluxDatabase } from "@umos/testkit";
import { createInfluxQuery, type WindowQuery } from "./influxql";
import { reportPoints } from "./points";

/**
 * The query path against InfluxDB 1.6, which answers InfluxQL on /query (VictoriaMetrics does not).
 * 1.6 has no /api/v2/write, so the points go in through its v1 /write, as the writer builds them.
 */
let influx: TestInfluxDatabase;
const t0 = 1_750_000_000_000 - (1_750_000_000_000 % 60_000); // a minute boundary, where InfluxQL windows start

beforeAll(async () => {
  influx = await createInfluxDatabase();
}, 15_000);

afterAll(async () => {
  await influx?.dispose();
});

const report = (deviceId: string, ts: number, data: Record<string, unknown>): Envelope => ({
  id: `${deviceId}-${ts}`,
  ts,
  vendor: "generic",
  deviceId,
  kind: "property.report",
  data,
});
const write = (...reports: Envelope[]) =>
  influx.write(reports.flatMap((r) => reportPoints(r, "thermostat")).map((p) => p.toLineProtocol({ convertTime: (t) => String(t) })!));
const query = () => createInfluxQuery({ url: influx.url, bucket: influx.database, timeoutMs: 2000 });
const minutes = (deviceId: string, fn: WindowQuery["fn"], property = "temperature"): WindowQuery => ({
  deviceId,
  property,
  fromMs: t0,
  toMs: t0 + 3 * 60_000,
  everyMs: 60_000,
  fn,
});

describe("aggregated windows", () => {
  test("mean, min, max, first, last, sum, count and spread per window, windows without data left out", async () => {
    // minute 0: 20, 22, 24; minute 1: nothing; minute 2: 30
    await write(report("q-1", t0, { temperature: 20 }), report("q-1", t0 + 10_000, { temperature: 22 }), report("q-1", t0 + 20_000, { temperature: 24 }));
    await write(report("q-1", t0 + 120_000, { temperature: 30 }));
    const q = query();
    expect(await q.windows(minutes("q-1", "mean"))).toEqual([
      { ts: t0, value: 22 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "min"))).toEqual([
      { ts: t0, value: 20 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "max"))).toEqual([
      { ts: t0, value: 24 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "last"))).toEqual([
      { ts: t0, value: 24 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "count"))).toEqual([
      { ts: t0, value: 3 },
      { ts: t0 + 120_000, value: 1 },
    ]);
    expect(await q.windows(minutes("q-1", "first"))).toEqual([
      { ts: t0, value: 20 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "sum"))).toEqual([
      { ts: t0, value: 66 },
      { ts: t0 + 120_000, value: 30 },
    ]);
    expect(await q.windows(minutes("q-1", "spread"))).toEqual([
      { ts: t0, value: 4 },
      { ts: t0 + 120_000, value: 0 },
    ]);
  });

  test("several properties in one query: each its own windows, in the order asked, one without data empty", async () => {
    await write(
      report("q-7", t0, { temperature: 20, humidity: 40, battery: { capacity_percent: 90 } }),
      report("q-7", t0 + 60_000, { temperature: 22, battery: { capacity_percent: 89 } }),
      report("q-8", t0, { humidity: 99 }),
    );
    const answer = await query().series({ ...minutes("q-7", "max"), properties: ["humidity", "nothing", "battery.capacity_percent", "temperature"] });
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
    await write(report("q-2", t0, { temperature: 10, humidity: 50 }), report("q-2", t0 + 60_000, { temperature: 99 }), report("q-3", t0, { temperature: 70 }));
    expect(await query().windows({ ...minutes("q-2", "mean"), toMs: t0 + 60_000 })).toEqual([{ ts: t0, value: 10 }]);
  });

  test("booleans aggregate as 1 and 0: the mean is the share of reports that were true", async () => {
    await write(
      report("q-4", t0, { heating: true }),
      report("q-4", t0 + 1000, { heating: false }),
      report("q-4", t0 + 2000, { heating: true }),
      report("q-4", t0 + 3000, { heating: true }),
    );
    expect(await query().windows(minutes("q-4", "mean", "heating"))).toEqual([{ ts: t0, value: 0.75 }]);
  });

  test("a property name is a quoted literal, not InfluxQL", async () => {
    await write(report("q-5", t0, { "it's": 5 }));
    expect(await query().windows(minutes("q-5", "mean", "it's"))).toEqual([{ ts: t0, value: 5 }]);
    expect(await query().windows(minutes("q-5", "mean", "x' OR '1'='1"))).toEqual([]);
  });

  test("a message written twice (a redelivery) is still one point: same measurement, tags and timestamp", async () => {
    const once = report("q-6", t0 + 5000, { temperature: 21.5 });
    await write(once);
    await write(once);
    expect(await query().windows(minutes("q-6", "count"))).toEqual([{ ts: t0, value: 1 }]);
  });
});

describe("event counts", () => {
  const event = (deviceId: string, ts: number, name: string): Envelope => ({
    id: `${deviceId}-${name}-${ts}`,
    ts,
    vendor: "generic",
    deviceId,
    kind: "event.report",
    data: { event: name, data: { level: 1 } },
  });
  const counts = (deviceId: string, events: string[], maxEvents = 10) =>
    query().eventCounts({ deviceId, events, maxEvents, fromMs: t0, toMs: t0 + 3 * 60_000, everyMs: 60_000 });

  test("occurrences per window and event name: every name in name order, or the names asked in their order", async () => {
    // minute 0: door twice, alarm once; minute 2: door once; another device's door stays out
    await write(event("e-1", t0, "door"), event("e-1", t0 + 1000, "door"), event("e-1", t0 + 2000, "alarm"), event("e-1", t0 + 120_000, "door"));
    await write(event("e-2", t0, "door"));
    expect(await counts("e-1", [])).toEqual({
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
    expect(await counts("e-1", ["door", "smoke"])).toEqual({
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
    await write(event("e-3", t0, "a"), event("e-3", t0, "b"), event("e-3", t0, "c"));
    const answer = await counts("e-3", [], 2);
    expect(answer.series.map((s) => s.event)).toEqual(["a", "b"]);
    expect(answer.more).toBe(true);
    expect((await counts("e-3", [], 3)).more).toBe(false);
  });
});

describe("failures", () => {
  test("a database that does not exist and a server that is down are both unavailable, with the reason", async () => {
    const missing = await createInfluxQuery({ url: influx.url, bucket: "umos_no_such_db", timeoutMs: 2000 })
      .windows(minutes("q-1", "mean"))
      .catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(UnavailableError);
    expect((missing as Error).message).toContain("database not found");
    const down = await createInfluxQuery({ url: `http://127.0.0.1:${await freePort()}`, bucket: "umos", timeoutMs: 2000 })
      .windows(minutes("q-1", "mean"))
      .catch((err: unknown) => err);
    expect(down).toBeInstanceOf(UnavailableError);
  });
});
