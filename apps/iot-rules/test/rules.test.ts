import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectBus, publishEnvelope, readEnvelope, shareBus, type Bus } from "@umos/bus";
import { KINDS, routingKey, type Envelope, type Vendor } from "@umos/contracts";
import { silentLogger, systemClock } from "@umos/core";
import type { App } from "@umos/runtime";
import { deadLetterRepository, deviceRepository, openMigratedDatabase, ruleRepository, thingModelRepository, type Alarm, type Database } from "@umos/store";
import { createBusFile, createDatabase, eventually, testConfig, testDeps, type TestBusFile, type TestDatabase } from "@umos/testkit";
import { adapterFor } from "@umos/vendors";
import { createApp } from "../src/app";
import { checkDeadLetters, PLATFORM_DEAD_LETTERS } from "../src/platform-alarm";

/**
 * iot-rules in process on the embedded bus and a database of its own: events published as iot-uplink
 * publishes them, alarms read from the database and from their events on the event stage.
 */
let busFile: TestBusFile;
let database: TestDatabase;
let db: Database;
let bus: Bus;
const replicas: App[] = [];
const alarmEvents: Envelope[] = [];
let config: ReturnType<typeof testConfig>;

async function startReplica(): Promise<App> {
  const deps = testDeps("iot-rules");
  const app = createApp(config, { ...deps, bus: shareBus(bus, config.bus.url, deps.obs), db });
  await app.start();
  replicas.push(app);
  return app;
}

beforeAll(async () => {
  [busFile, database] = await Promise.all([createBusFile(), createDatabase()]);
  config = testConfig(
    { busUrl: busFile.url, postgresUrl: database.url },
    { UMOS_RULES__PORT: "0", UMOS_RULES__SWEEP_INTERVAL_MS: "50", UMOS_RULES__RULE_CACHE_MS: "0", UMOS_RULES__DEAD_LETTER_ALARM_AT: "0" },
  );
  db = await openMigratedDatabase(config.postgres, silentLogger);
  bus = await connectBus({ ...config.bus, name: "rules-test", log: silentLogger });
  await bus.consume({ queue: { wsInstance: "rules-test" } }, async (message) => {
    const envelope = readEnvelope(message);
    if (envelope.kind.startsWith("alarm.")) alarmEvents.push(envelope);
  });
  await thingModelRepository(db.sql).create("dock", {
    definition: {
      properties: [{ identifier: "battery", accessMode: "r", dataType: { type: "int", specs: { min: 0, max: 100 } } }],
      events: [{ identifier: "hms", type: "alert", outputData: [] }],
    },
  });
  await startReplica();
});

afterAll(async () => {
  for (const app of replicas) await app.stop();
  await bus?.close();
  await db?.close();
  await database?.dispose();
  await busFile?.dispose();
});

/** Waits until the assertion passes (or fails with its last error). */
const until = (assertion: () => unknown, timeoutMs = 5000) =>
  eventually(async () => {
    await assertion();
    return true;
  }, timeoutMs);

let deviceCount = 0;
/** A new device on the dock model, so every test has its own alarms. */
async function newDock(vendor: Vendor = "generic"): Promise<string> {
  const id = `dock-${++deviceCount}`;
  await deviceRepository(db.sql).create({ id, vendor, model: { id: "dock", version: 1 } });
  return id;
}

async function rule(id: string, definition: unknown) {
  await ruleRepository(db.sql).create(id, { name: id, modelId: "dock", definition, createdBy: "test" });
}

function report(deviceId: string, data: Record<string, unknown>, ts = Date.now(), id: string = Bun.randomUUIDv7(), vendor: Vendor = "generic") {
  return publishEnvelope(bus, routingKey(vendor, "event", KINDS.propertyReport), { id, ts, vendor, deviceId, kind: KINDS.propertyReport, data });
}

/** A battery report, waited for until the rule has taken it: reports in flight at once may be evaluated in any order. */
async function reportInTurn(deviceId: string, battery: number, ts: number) {
  await report(deviceId, { battery }, ts);
  await until(async () => {
    const [row] = await db.sql<{ ts: number }[]>`
      select (facts->'props'->'battery'->>'ts')::bigint as ts from alarm_rule_state where rule_id = 'battery' and device_id = ${deviceId}`;
    expect(Number(row?.ts)).toBe(ts);
  });
}

const alarmsOf = (deviceId: string) => db.sql<Alarm[]>`
  select id, source, severity, status, occurrences, details from alarms where device_id = ${deviceId} order by started_at, id`;
const changesOf = (deviceId: string) => alarmEvents.filter((e) => e.deviceId === deviceId).map((e) => (e.data as { change: string }).change);

describe("a threshold with a duration, escalation and a clear condition", () => {
  beforeAll(() =>
    rule("battery", {
      levels: [
        { severity: "warning", when: { property: "battery", op: "lt", value: 30 } },
        { severity: "major", when: { property: "battery", op: "lt", value: 20 }, forMs: 400 },
      ],
      clear: { when: { property: "battery", op: "gt", value: 35 } },
    }),
  );

  test("raises at once, escalates only after the duration, does not flap around the threshold, and clears by hysteresis", async () => {
    const dock = await newDock();
    await report(dock, { battery: 25 });
    await until(async () => expect((await alarmsOf(dock)).map((a) => a.severity)).toEqual(["warning"]));
    const lowAt = Date.now();
    await report(dock, { battery: 15 });
    await until(async () => expect((await alarmsOf(dock))[0]!.severity).toBe("major"));
    // Escalated by the sweep once the value had stayed low for forMs, not by the report itself.
    expect(Date.now() - lowAt).toBeGreaterThanOrEqual(400);
    // Device times a few ms apart: two values of one millisecond are one value (the later wins).
    const base = Date.now();
    for (const [i, battery] of [21, 19, 31, 19, 33].entries()) await reportInTurn(dock, battery, base + i * 5);
    await Bun.sleep(200);
    expect((await alarmsOf(dock)).map((a) => a.status)).toEqual(["active"]);
    await report(dock, { battery: 36 }, base + 100);
    await until(async () => expect((await alarmsOf(dock)).map((a) => a.status)).toEqual(["cleared"]));
    await until(() => expect(changesOf(dock).filter((c) => c !== "occurred")).toEqual(["raised", "escalated", "downgraded", "cleared"]));
  });

  test("the same event delivered twice changes nothing the second time", async () => {
    const dock = await newDock();
    const id = Bun.randomUUIDv7();
    const ts = Date.now();
    await report(dock, { battery: 25 }, ts, id);
    await until(async () => expect(await alarmsOf(dock)).toHaveLength(1));
    await report(dock, { battery: 25 }, ts, id);
    await report(dock, { battery: 26 });
    await until(async () => expect((await alarmsOf(dock))[0]!.occurrences).toBe(2));
    await Bun.sleep(200);
    expect((await alarmsOf(dock))[0]!.occurrences).toBe(2);
  });

  test("a late report with an older device time does not overwrite the newer value", async () => {
    const dock = await newDock();
    const now = Date.now();
    await reportInTurn(dock, 50, now);
    await report(dock, { battery: 10 }, now - 60_000);
    await Bun.sleep(300);
    expect(await alarmsOf(dock)).toHaveLength(0);
  });
});

describe("restart and replicas", () => {
  beforeAll(() => rule("flat", { levels: [{ severity: "critical", when: { property: "battery", op: "lt", value: 5 }, forMs: 1500 }] }));

  test("a restart in the middle of a duration still raises the alarm on time", async () => {
    const dock = await newDock();
    const sentAt = Date.now();
    await report(dock, { battery: 2 });
    await until(async () => expect((await db.sql`select 1 from alarm_rule_state where rule_id = 'flat' and device_id = ${dock}`).length).toBe(1));
    for (const app of replicas.splice(0)) await app.stop();
    await Bun.sleep(300);
    await startReplica();
    await until(async () => expect((await alarmsOf(dock)).filter((a) => a.source === "rule:flat")).toHaveLength(1), 5000);
    const raisedAfter = Date.now() - sentAt;
    expect(raisedAfter).toBeGreaterThanOrEqual(1500);
    expect(raisedAfter).toBeLessThan(4000);
  });

  test("two replicas raise one alarm per device, not two", async () => {
    await startReplica();
    expect(replicas).toHaveLength(2);
    const docks = await Promise.all(Array.from({ length: 10 }, () => newDock()));
    await Promise.all(docks.flatMap((dock) => [25, 24, 23, 22].map((battery, i) => report(dock, { battery }, Date.now() + i))));
    await until(async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from alarms where device_id in ${db.sql(docks)} and source = 'rule:battery'`;
      expect(row!.n).toBe(10);
    });
    await Bun.sleep(300);
    const per = await db.sql<{ deviceId: string; n: number; occurrences: number }[]>`
      select device_id as "deviceId", count(*)::int as n, sum(occurrences)::int as occurrences
      from alarms where device_id in ${db.sql(docks)} and source = 'rule:battery' group by device_id`;
    expect(per.map((p) => [p.n, p.occurrences])).toEqual(Array(10).fill([1, 4]));
  });
});

describe("built-in and time-based conditions", () => {
  test("a DJI hms event, from a frame shaped as DJI documents it, raises an alarm per code at its level without any rule, and clears when the code is gone", async () => {
    const dock = await newDock("dji");
    const frame = (list: unknown[], timestamp: number) => ({
      deviceId: dock,
      action: "events",
      topic: `thing/product/${dock}/events`,
      payload: Buffer.from(
        JSON.stringify({ tid: crypto.randomUUID(), bid: crypto.randomUUID(), timestamp, gateway: dock, method: "hms", need_reply: 1, data: { list } }),
      ),
      messageId: Bun.randomUUIDv7(),
      receivedAt: Date.now(),
    });
    const item = { level: 2, module: 3, in_the_sky: 0, code: "0x16100083", device_type: "0-67-0", imminent: 0, args: { component_index: 0, sensor_index: 0 } };
    for (const [list, ts] of [
      [[item], Date.now()],
      [[], Date.now() + 1000],
    ] as const) {
      const decoded = adapterFor("dji").decode(frame([...list], ts));
      for (const m of decoded.messages) await publishEnvelope(bus, routingKey("dji", m.stage, m.action), m.envelope);
      if (list.length) {
        await until(async () =>
          expect((await alarmsOf(dock)).map((a) => [a.source, a.severity, a.status])).toEqual([["dji.hms:0x16100083", "critical", "active"]]),
        );
      }
    }
    await until(async () => expect((await alarmsOf(dock)).map((a) => a.status)).toEqual(["cleared"]));
  });

  test("a device silent for the rule's duration raises an alarm, and its next report clears it", async () => {
    await ruleRepository(db.sql).create("quiet", {
      name: "quiet",
      modelId: "dock",
      definition: { levels: [{ severity: "minor", when: { silentForMs: 1000 } }] },
      createdBy: "test",
    });
    const dock = await newDock();
    await report(dock, { battery: 90 });
    await until(async () => expect((await alarmsOf(dock)).filter((a) => a.source === "rule:quiet")).toHaveLength(1), 4000);
    await report(dock, { battery: 90 });
    await until(async () => expect((await alarmsOf(dock)).filter((a) => a.source === "rule:quiet").map((a) => a.status)).toEqual(["cleared"]));
    await ruleRepository(db.sql).remove("quiet", "test");
  });
});

describe("the platform alarm", () => {
  test("dead letters piling up raise it as major at the threshold and critical at ten times it; it clears below half the threshold", async () => {
    const check = (threshold: number) => checkDeadLetters(db.sql, systemClock, threshold, () => {});
    const deadLetters = deadLetterRepository(db.sql);
    const archive = (n: number, from: number) =>
      deadLetters.archive(
        Array.from({ length: n }, (_, i) => ({
          dedupeKey: `platform-${from + i}`,
          queue: "iot-uplink-queue",
          code: "invalid_json",
          reason: "test",
          routingKey: "iot.generic.device.property.report",
          messageId: null,
          contentType: null,
          deviceId: null,
          headers: {},
          payload: new Uint8Array(),
          payloadSize: 0,
          replayCount: 0,
          deadLetteredAt: new Date(),
        })),
      );
    const platform = () => db.sql<Alarm[]>`select severity, status, details from alarms where source = ${PLATFORM_DEAD_LETTERS} order by started_at`;
    await archive(4, 0);
    await check(5);
    expect(await platform()).toHaveLength(0);
    await archive(1, 4);
    await check(5);
    expect((await platform()).map((a) => [a.severity, a.status])).toEqual([["major", "active"]]);
    await archive(45, 5);
    await check(5);
    expect((await platform()).map((a) => [a.severity, a.status])).toEqual([["critical", "active"]]);
    // Replayed down to 3 waiting: below the threshold, but not below half of it: still up, downgraded.
    await db.sql`update dead_letters set replayed_at = now() where id in (select id from dead_letters where replayed_at is null limit 47)`;
    await check(5);
    expect((await platform()).map((a) => [a.severity, a.status])).toEqual([["major", "active"]]);
    await db.sql`update dead_letters set replayed_at = now() where id in (select id from dead_letters where replayed_at is null limit 1)`;
    await check(5);
    expect((await platform()).map((a) => a.status)).toEqual(["cleared"]);
  });
});
