import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "@umos/runtime";
import type { Database } from "@umos/store";
import { createPostgresTimeSeries, reportPoints } from "@umos/timeseries";
import {
  createBusFile,
  createMigratedDatabase,
  inProcess,
  jsonClient,
  manualClock,
  testConfig,
  testToken,
  type TestBusFile,
  type TestDatabase,
} from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * The telemetry and retention routes in-process on timeseries.kind: postgres, the points written
 * into the same database as iot-uplink writes them. The API's clock reads an hour after t0.
 */
let database: TestDatabase;
let db: Database;
let busFile: TestBusFile;
let app: App;
let base: string;
let viewer: ReturnType<typeof jsonClient>;
let admin: ReturnType<typeof jsonClient>;
const t0 = Date.parse("2025-06-15T10:00:00Z");
const range = `from=${t0}&to=${t0 + 3_600_000}`;

beforeAll(async () => {
  const migrated = await createMigratedDatabase(2);
  [database, db, busFile] = [migrated, migrated.db, await createBusFile()];
  app = inProcess(createApp, testConfig({ busUrl: busFile.url, postgresUrl: database.url }, { UMOS_TIMESERIES__KIND: "postgres" }), "iot-api", {
    clock: manualClock(t0 + 3_600_000),
  });
  await app.start();
  base = `http://127.0.0.1:${app.port}`;
  viewer = jsonClient(base, await testToken("viewer"));
  admin = jsonClient(base, await testToken("admin"));
}, 30_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([database?.dispose(), busFile?.dispose()]);
}, 30_000);

async function device(id: string, reports: { minute: number; kind?: string; data: Record<string, unknown> }[]) {
  expect((await admin.post("/api/v1/devices", { id, vendor: "generic" })).status).toBe(201);
  const store = createPostgresTimeSeries(db.sql, { clock: manualClock(t0), rawRetentionDays: async () => null });
  await store.write(
    reports.flatMap((r, i) =>
      reportPoints({ id: `${id}-${i}`, ts: t0 + r.minute * 60_000, vendor: "generic", deviceId: id, kind: r.kind ?? "property.report", data: r.data }, null),
    ),
  );
}

describe("history on PostgreSQL", () => {
  test("windows, the value list with text values, and the event list, from the same store", async () => {
    await device("h-1", [
      { minute: 0, data: { temperature: 20, mode: "eco" } },
      { minute: 10, data: { temperature: 24, mode: "boost" } },
      { minute: 40, data: { temperature: 30 } },
      { minute: 41, kind: "event.report", data: { event: "door", data: { open: true } } },
    ]);
    const windows = await viewer.get(`/api/v1/devices/h-1/telemetry?property=temperature&${range}&every=30m&fn=mean`);
    expect(windows.body.points).toEqual([
      { ts: "2025-06-15T10:00:00.000Z", value: 22 },
      { ts: "2025-06-15T10:30:00.000Z", value: 30 },
    ]);
    const values = await viewer.get(`/api/v1/devices/h-1/telemetry/values?property=mode&${range}`);
    expect(values.body.values).toEqual([
      { ts: "2025-06-15T10:10:00.000Z", property: "mode", value: null, text: "boost" },
      { ts: "2025-06-15T10:00:00.000Z", property: "mode", value: null, text: "eco" },
    ]);
    const events = await viewer.get(`/api/v1/devices/h-1/telemetry/event-list?${range}`);
    expect(events.body.events).toEqual([{ ts: "2025-06-15T10:41:00.000Z", event: "door", data: { open: true } }]);
    expect((await viewer.get(`/api/v1/devices/h-1/telemetry/values?limit=1001`)).status).toBe(400);
  });

  test("the export streams CSV in time order, quoting what needs it and defusing spreadsheet formulas; JSON lines on asking", async () => {
    await device("h-2", [
      { minute: 0, data: { note: 'say "hi", twice', level: 1 } },
      { minute: 1, data: { note: "=HYPERLINK(1)", level: -2 } },
    ]);
    const res = await fetch(`${base}/api/v1/devices/h-2/telemetry/export?${range}`, { headers: { authorization: `Bearer ${await testToken("viewer")}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="h-2-telemetry.csv"');
    expect(await res.text()).toBe(
      [
        "time,property,value,text",
        "2025-06-15T10:00:00.000Z,level,1,",
        '2025-06-15T10:00:00.000Z,note,,"say ""hi"", twice"',
        "2025-06-15T10:01:00.000Z,level,-2,",
        "2025-06-15T10:01:00.000Z,note,,'=HYPERLINK(1)",
        "",
      ].join("\n"),
    );
    const lines = await fetch(`${base}/api/v1/devices/h-2/telemetry/export?${range}&format=ndjson&name=level`, {
      headers: { authorization: `Bearer ${await testToken("viewer")}` },
    });
    expect(
      (await lines.text())
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { ts: "2025-06-15T10:00:00.000Z", property: "level", value: 1, text: null },
      { ts: "2025-06-15T10:01:00.000Z", property: "level", value: -2, text: null },
    ]);
  });

  test("deleting a device deletes its points", async () => {
    await device("h-3", [{ minute: 0, data: { level: 1 } }]);
    expect((await admin.delete("/api/v1/devices/h-3")).status).toBe(204);
    const [left] = await db.sql<{ count: bigint }[]>`select count(*) from telemetry_points where device_id = 'h-3'`;
    expect(Number(left!.count)).toBe(0);
  });
});

describe("retention API", () => {
  test("an admin reads every kind's period and changes some; the change names who made it; viewers may not", async () => {
    const before = await admin.get("/api/v1/retention");
    expect(before.status).toBe(200);
    expect(before.body.settings.find((s: { kind: string }) => s.kind === "telemetry")).toEqual({
      kind: "telemetry",
      days: 30,
      source: "config",
      updatedAt: null,
      updatedBy: null,
    });
    expect(before.body.database.bytes).toBeGreaterThan(0);
    const changed = await admin.put("/api/v1/retention", { telemetry: 7, rollup1h: null });
    expect(changed.status).toBe(200);
    expect(changed.body.settings.find((s: { kind: string }) => s.kind === "telemetry")).toMatchObject({ days: 7, source: "api", updatedBy: "test-admin" });
    expect(changed.body.settings.find((s: { kind: string }) => s.kind === "rollup1h")).toMatchObject({ days: null, source: "api" });
    expect((await viewer.get("/api/v1/retention")).status).toBe(403);
    expect((await admin.put("/api/v1/retention", { telemetry: 0 })).status).toBe(400);
    expect((await admin.put("/api/v1/retention", { forever: 1 })).status).toBe(400);
    expect((await admin.put("/api/v1/retention", {})).status).toBe(400);
  });
});
