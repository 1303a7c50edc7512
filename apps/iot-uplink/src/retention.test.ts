import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { silentLogger } from "@umos/core";
import { deviceRepository, policyOf, retentionRepository, writeBatch, type Database, type RetentionKind } from "@umos/store";
import { createMigratedDatabase, manualClock, type TestDatabase } from "@umos/testkit";
import { createPostgresTimeSeries, listPartitions, reportPoints, runRollups } from "@umos/timeseries";
import { runRetention, type RetentionParts } from "./retention";

/** Retention on a PostgreSQL of its own, with a clock the test moves. */
let database: TestDatabase;
let db: Database;
const DAY = 86_400_000;
const start = Date.UTC(2026, 2, 1, 12);

beforeAll(async () => {
  const migrated = await createMigratedDatabase();
  database = migrated;
  db = migrated.db;
}, 20_000);

afterAll(async () => {
  await database?.dispose();
});

const defaults = policyOf({
  telemetryDays: 30,
  rollup1mDays: 366,
  rollup1hDays: 0,
  messageLogDays: 30,
  presenceDays: 7,
  commandsDays: 90,
  deadLettersDays: 30,
  alarmsDays: 365,
  notificationsDays: 30,
});

function parts(clock: { now(): number }, overrides: Partial<RetentionParts> = {}) {
  const removed: [RetentionKind, string, number][] = [];
  const retention: RetentionParts = {
    sql: db.sql,
    repo: retentionRepository(db.sql),
    clock,
    log: silentLogger,
    defaults,
    postgresTelemetry: true,
    maxDatabaseBytes: 0,
    removed: (kind, reason, count) => removed.push([kind, reason, count]),
    ...overrides,
  };
  return { retention, removed };
}

const days = async (table: string) => (await listPartitions(db.sql, table)).map((p) => new Date(p.fromMs).toISOString().slice(0, 10));

describe("retention", () => {
  test("with the clock moved, expired telemetry partitions are dropped whole, the roll-ups and everything younger are left as they were", async () => {
    const clock = manualClock(start);
    const store = createPostgresTimeSeries(db.sql, { clock, rawRetentionDays: async () => null });
    // A report a day for 40 days up to the start.
    for (let d = 39; d >= 0; d--) {
      await store.write(
        reportPoints({ id: `m-${d}`, ts: start - d * DAY, vendor: "generic", deviceId: "ret-1", kind: "property.report", data: { level: d } }, null),
      );
    }
    await runRollups(db.sql, { minutes: new Set(), hours: new Set() }, 0);
    expect((await days("telemetry_points")).length).toBe(40);
    const before = await days("telemetry_rollup_1h");

    const { retention, removed } = parts(clock);
    expect(await runRetention(retention)).toBe(true);
    // 30 days kept: the partition of the day 30 days ago still holds an instant inside the period.
    const kept = await days("telemetry_points");
    expect(kept.length).toBe(31);
    expect(kept[0]).toBe(new Date(start - 30 * DAY).toISOString().slice(0, 10));
    expect(await days("telemetry_rollup_1h")).toEqual(before);
    expect(removed).toEqual(Array(9).fill(["telemetry", "expired", 1]));
    // The hourly roll-ups still answer for the days whose raw points are gone.
    const daily = await store.windows({ deviceId: "ret-1", property: "level", fn: "count", everyMs: DAY, fromMs: start - 40 * DAY, toMs: start + DAY });
    expect(daily.length).toBe(40);

    // A day later one more goes; the log says what went, when and why.
    clock.advance(DAY);
    await runRetention(retention);
    expect((await days("telemetry_points")).length).toBe(30);
    const [last] = await retentionRepository(db.sql).removals(1);
    expect(last).toMatchObject({
      kind: "telemetry",
      reason: "expired",
      removed: `telemetry_points_d${new Date(start - 30 * DAY).toISOString().slice(0, 10).replaceAll("-", "")}`,
    });
  }, 30_000);

  test("old message log rows, presence changes and finished commands are deleted by their own periods; open commands and younger rows stay", async () => {
    const clock = manualClock(start);
    await deviceRepository(db.sql).create({ id: "ret-2", vendor: "generic" });
    const entry = (id: string, kind: string, ageDays: number) => ({
      envelope: { id, ts: start - ageDays * DAY, vendor: "generic" as const, deviceId: "ret-2", kind, data: {} },
      dedupeKey: id,
      receivedAt: start - ageDays * DAY,
    });
    await writeBatch(db.sql, [
      entry("0195a000-0000-7000-8000-000000000001", "property.report", 31),
      entry("0195a000-0000-7000-8000-000000000002", "property.report", 29),
      entry("0195a000-0000-7000-8000-000000000003", "status.online", 8),
      entry("0195a000-0000-7000-8000-000000000004", "status.offline", 6),
    ]);
    const command = (id: string, status: string, ageDays: number) =>
      db.sql`insert into commands (id, device_id, vendor, kind, status, created_at, updated_at)
             values (${id}, 'ret-2', 'generic', 'service.call', ${status}, ${new Date(start - ageDays * DAY)}, ${new Date(start - ageDays * DAY)})`;
    await command("0195a000-0000-7000-8000-0000000000c1", "acked", 91);
    await command("0195a000-0000-7000-8000-0000000000c2", "sent", 200);
    await command("0195a000-0000-7000-8000-0000000000c3", "failed", 10);

    const { retention, removed } = parts(clock, { postgresTelemetry: false });
    await runRetention(retention);
    const log = await db.sql<{ id: string }[]>`select id::text from message_log where device_id = 'ret-2' order by id`;
    expect(log.map((r) => r.id.slice(-1))).toEqual(["2", "4"]);
    const commands = await db.sql<{ id: string }[]>`select id::text from commands where device_id = 'ret-2' order by id`;
    expect(commands.map((r) => r.id.slice(-2))).toEqual(["c2", "c3"]);
    expect(removed).toEqual([
      ["messageLog", "expired", 1],
      ["presence", "expired", 1],
      ["commands", "expired", 1],
    ]);
  });

  test("cleared alarms and the notification record expire by their own periods; an active alarm stays whatever its age", async () => {
    const clock = manualClock(start);
    await deviceRepository(db.sql).create({ id: "ret-3", vendor: "generic" });
    const alarm = (id: string, status: "active" | "cleared", ageDays: number) =>
      db.sql`insert into alarms (id, device_id, vendor, source, type, severity, status, started_at, last_seen_at, ended_at)
             values (${id}, 'ret-3', 'generic', ${`rule:${id}`}, 'test', 'major', ${status}, ${new Date(start - 400 * DAY)},
               ${new Date(start - ageDays * DAY)}, ${status === "cleared" ? new Date(start - ageDays * DAY) : null})`;
    await alarm("0195a000-0000-7000-8000-0000000000a1", "cleared", 366);
    await alarm("0195a000-0000-7000-8000-0000000000a2", "cleared", 364);
    await alarm("0195a000-0000-7000-8000-0000000000a3", "active", 400);
    const [channel] = await db.sql<{ id: string }[]>`
      insert into notification_channels (id, name, kind, config, triggers) values (${Bun.randomUUIDv7()}, 'ops', 'webhook', '{}', '{alarm.raised}')
      returning id`;
    const delivery = (eventId: string, ageDays: number) =>
      db.sql`insert into notification_deliveries (event_id, channel_id, trigger, status, attempts, at)
             values (${eventId}, ${channel!.id}, 'alarm.raised', 'sent', 1, ${new Date(start - ageDays * DAY)})`;
    await delivery("old", 31);
    await delivery("young", 29);

    const { retention, removed } = parts(clock, { postgresTelemetry: false });
    await runRetention(retention);
    const alarms = await db.sql<{ id: string }[]>`select id::text from alarms where device_id = 'ret-3' order by id`;
    expect(alarms.map((r) => r.id.slice(-2))).toEqual(["a2", "a3"]);
    const deliveries = await db.sql<{ eventId: string }[]>`select event_id as "eventId" from notification_deliveries order by event_id`;
    expect(deliveries.map((r) => r.eventId)).toEqual(["young"]);
    expect(removed.filter(([kind]) => kind === "alarms" || kind === "notifications")).toEqual([
      ["alarms", "expired", 1],
      ["notifications", "expired", 1],
    ]);
  });

  test("a period changed through the repository wins over the configuration's", async () => {
    const clock = manualClock(start);
    const repo = retentionRepository(db.sql);
    await repo.set({ presence: null, messageLog: 1 }, "alice");
    try {
      const settings = await repo.settings(defaults);
      expect(settings.find((s) => s.kind === "messageLog")).toMatchObject({ days: 1, source: "api", updatedBy: "alice" });
      expect(settings.find((s) => s.kind === "presence")).toMatchObject({ days: null, source: "api" });
      expect(settings.find((s) => s.kind === "commands")).toMatchObject({ days: 90, source: "config", updatedBy: null });
      expect((await repo.policy(defaults)).messageLog).toBe(1);
      expect(await runRetention(parts(clock).retention)).toBe(true);
    } finally {
      await db.sql`delete from retention_settings`;
    }
  });

  test("past the disk guard's limit the oldest raw days go first, never today's, and each is recorded as disk_guard", async () => {
    const clock = manualClock(start);
    const store = createPostgresTimeSeries(db.sql, { clock, rawRetentionDays: async () => null });
    for (let d = 3; d >= 0; d--) {
      await store.write(
        reportPoints({ id: `g-${d}`, ts: start - d * DAY, vendor: "generic", deviceId: "ret-3", kind: "property.report", data: { level: d } }, null),
      );
    }
    const { retention, removed } = parts(clock, { maxDatabaseBytes: 1, defaults: { ...defaults, telemetry: null } });
    await runRetention(retention);
    expect(await days("telemetry_points")).toEqual([new Date(start).toISOString().slice(0, 10)]);
    expect(removed.every(([kind, reason]) => kind === "telemetry" && reason === "disk_guard")).toBe(true);
    expect(removed.length).toBeGreaterThanOrEqual(3);
    const [last] = await retentionRepository(db.sql).removals(1);
    expect(last).toMatchObject({ kind: "telemetry", reason: "disk_guard" });
  });

  test("a second replica's run at the same time stands aside", async () => {
    const clock = manualClock(start);
    const lock = await db.sql.reserve();
    try {
      await lock`select pg_advisory_lock(hashtext('umos_retention'))`;
      expect(await runRetention(parts(clock).retention)).toBe(false);
    } finally {
      await lock`select pg_advisory_unlock(hashtext('umos_retention'))`;
      lock.release();
    }
  });
});
