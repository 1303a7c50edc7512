import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectBus, shareBus } from "@umos/bus";
import { silentLogger } from "@umos/core";
import { createBusFile, testDeps, testToken } from "@umos/testkit";
import { createApp } from "../src/app";
import { type AlarmApi, seedAlarm, startAlarmApi } from "./alarm-api";

/** The alarm routes on a real PostgreSQL and the embedded bus, iot-api driven in process. */
let api: AlarmApi;

beforeAll(async () => {
  api = await startAlarmApi();
  for (const id of ["al-a", "al-b", "al-h", "al-v", "al-o"])
    expect((await api.call("admin", "POST", "/api/v1/devices", { id, vendor: "generic" })).status).toBe(201);
}, 30_000);

afterAll(async () => {
  await api?.dispose();
}, 30_000);

const ids = (page: { items: { id: string }[] }) => page.items.map((a) => a.id);

describe("listing alarms", () => {
  test("newest first, filtered by device, severity, status, acknowledgement, source and start time, in pages", async () => {
    // A day of its own in 2020: the other tests' alarms start now and stay out of these lists.
    const day = Date.parse("2020-03-01T00:00:00Z");
    const at = (minute: number) => new Date(day + minute * 60_000);
    const a1 = await seedAlarm(api.db, { deviceId: "al-a", source: "rule:temp", severity: "critical", startedAt: at(0) });
    const a2 = await seedAlarm(api.db, { deviceId: "al-a", source: "rule:temp", severity: "minor", status: "cleared", startedAt: at(1) });
    const a3 = await seedAlarm(api.db, { deviceId: "al-b", source: "dji.hms:0x16100083", severity: "major", acknowledged: true, startedAt: at(2) });
    const a4 = await seedAlarm(api.db, { deviceId: "al-b", source: "rule:battery", severity: "warning", startedAt: at(3) });
    const a5 = await seedAlarm(api.db, { deviceId: null, source: "platform.dead_letters", severity: "major", startedAt: at(4) });
    const list = async (query: string) => {
      const res = await api.call("viewer", "GET", `/api/v1/alarms?from=2020-03-01T00:00:00Z&to=2020-03-02T00:00:00Z${query}`);
      expect(res.status).toBe(200);
      return res.body;
    };

    expect(ids(await list(""))).toEqual([a5, a4, a3, a2, a1]);
    expect(ids(await list("&device=al-a"))).toEqual([a2, a1]);
    expect(ids(await list("&severity=major&severity=critical"))).toEqual([a5, a3, a1]);
    expect(ids(await list("&severity=major,critical"))).toEqual([a5, a3, a1]);
    expect(ids(await list("&status=cleared"))).toEqual([a2]);
    expect(ids(await list("&status=active&acknowledged=false"))).toEqual([a5, a4, a1]);
    expect(ids(await list("&source=rule:temp"))).toEqual([a2, a1]);
    expect(ids(await api.call("viewer", "GET", "/api/v1/alarms?from=2020-03-01T00:01:00Z&to=2020-03-01T00:03:00Z").then((r) => r.body))).toEqual([a3, a2]);

    const first = await list("&limit=2");
    expect(ids(first)).toEqual([a5, a4]);
    const second = await list(`&limit=2&cursor=${first.nextCursor}`);
    expect(ids(second)).toEqual([a3, a2]);
    const last = await list(`&limit=2&cursor=${second.nextCursor}`);
    expect(ids(last)).toEqual([a1]);
    expect(last.nextCursor).toBeNull();

    expect((await list("")).items[0]).toMatchObject({
      id: a5,
      deviceId: null,
      severity: "major",
      status: "active",
      acknowledged: false,
      details: { seeded: true },
    });

    const perDevice = await api.call("viewer", "GET", "/api/v1/devices/al-b/alarms?status=active");
    expect(perDevice.status).toBe(200);
    expect(ids(perDevice.body)).toEqual([a4, a3]);
  });

  test("a bad filter is a 400 naming it, a device that does not exist a 404", async () => {
    const refused = async (query: string, names: string) => {
      const res = await api.call("viewer", "GET", `/api/v1/alarms?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(names);
    };
    await refused("severity=major,urgent", "urgent");
    await refused("status=gone", "status");
    // Elysia reports a number coerced from the query without its name; the status is what counts.
    expect((await api.call("viewer", "GET", "/api/v1/alarms?limit=501")).status).toBe(400);
    expect((await api.call("viewer", "GET", "/api/v1/alarms?limit=0")).status).toBe(400);
    await refused("from=yesterday", "from");
    await refused(`cursor=${Buffer.from("2020-03-01T00:00:00.000Z|not-a-uuid").toString("base64url")}`, "cursor");
    await refused("cursor=%21%21", "cursor");
    expect((await api.call("viewer", "GET", "/api/v1/devices/no-such-device/alarms")).status).toBe(404);
  });

  test("the summary counts active alarms per severity and those nobody acknowledged", async () => {
    const before = (await api.call("viewer", "GET", "/api/v1/alarms/summary")).body;
    await seedAlarm(api.db, { deviceId: "al-o", source: "rule:summary-1", severity: "critical" });
    await seedAlarm(api.db, { deviceId: "al-o", source: "rule:summary-2", severity: "critical", acknowledged: true });
    await seedAlarm(api.db, { deviceId: "al-o", source: "rule:summary-3", severity: "warning", status: "cleared" });
    const after = await api.call("viewer", "GET", "/api/v1/alarms/summary");
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ active: { ...before.active, critical: before.active.critical + 2 }, unacknowledged: before.unacknowledged + 1 });
  });
});

describe("handling an alarm", () => {
  test("acknowledge, assign, comment and clear each name who acted and put the alarm's event on the bus", async () => {
    const id = await seedAlarm(api.db, { deviceId: "al-h", source: "rule:handled" });
    const seen = api.events.length;

    const acked = await api.call("operator", "POST", `/api/v1/alarms/${id}/acknowledge`);
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ id, acknowledged: true, acknowledgedBy: "test-operator", status: "active" });
    const assigned = await api.call("operator", "PUT", `/api/v1/alarms/${id}/assignee`, { assignee: "maria" });
    expect(assigned.body).toMatchObject({ id, assignee: "maria" });
    const comment = await api.call("operator", "POST", `/api/v1/alarms/${id}/comments`, { text: "replacing the battery" });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({ author: "test-operator", text: "replacing the battery" });
    const cleared = await api.call("operator", "POST", `/api/v1/alarms/${id}/clear`);
    expect(cleared.body).toMatchObject({ id, status: "cleared", clearedBy: "test-operator" });
    expect(cleared.body.endedAt).not.toBeNull();

    const one = await api.call("viewer", "GET", `/api/v1/alarms/${id}`);
    expect(one.body).toMatchObject({ id, status: "cleared", assignee: "maria", comments: [{ author: "test-operator", text: "replacing the battery" }] });

    const events = (await api.eventsReach(seen + 4)).slice(seen);
    expect(events.map((e) => [e.routingKey, e.kind, e.data.change, e.data.by])).toEqual([
      ["iot.generic.event.alarm.updated", "alarm.updated", "acknowledged", "test-operator"],
      ["iot.generic.event.alarm.updated", "alarm.updated", "assigned", "test-operator"],
      ["iot.generic.event.alarm.updated", "alarm.updated", "commented", "test-operator"],
      ["iot.generic.event.alarm.cleared", "alarm.cleared", "cleared", "test-operator"],
    ]);
    expect(events.every((e) => e.deviceHeader === "al-h" && e.deviceId === "al-h" && e.data.alarm.id === id)).toBe(true);
    expect(events[3].data.alarm.status).toBe("cleared");
    await api.outboxDrained();
  });

  test("a cleared alarm cannot be cleared again, nor an acknowledged one acknowledged again: 409, and no event", async () => {
    const id = await seedAlarm(api.db, { deviceId: "al-h", source: "rule:twice" });
    const before = api.events.length;
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/acknowledge`)).status).toBe(200);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/clear`)).status).toBe(200);
    const seen = (await api.eventsReach(before + 2)).length;
    const again = await api.call("operator", "POST", `/api/v1/alarms/${id}/clear`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe(`alarm '${id}' is cleared: it cannot be cleared now`);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/acknowledge`)).status).toBe(409);
    await Bun.sleep(100);
    expect(api.events.length).toBe(seen);
  });

  test("a malformed alarm id is a 400, an unknown one a 404, never a 500", async () => {
    const unknown = "0190a1b2-0000-7000-8000-000000000000";
    for (const bad of ["not-a-uuid", "urn:uuid:0190a1b2-0000-7000-8000-000000000000", "0190a1b2-0000-7000-8000-00000000000g"]) {
      expect((await api.call("viewer", "GET", `/api/v1/alarms/${bad}`)).status).toBe(400);
      expect((await api.call("operator", "POST", `/api/v1/alarms/${bad}/clear`)).status).toBe(400);
    }
    expect((await api.call("viewer", "GET", `/api/v1/alarms/${unknown}`)).status).toBe(404);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${unknown}/acknowledge`)).status).toBe(404);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${unknown}/clear`)).status).toBe(404);
    expect((await api.call("operator", "PUT", `/api/v1/alarms/${unknown}/assignee`, { assignee: null })).status).toBe(404);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${unknown}/comments`, { text: "anyone?" })).status).toBe(404);
  });

  test("a comment of 1 to 4000 characters and an assignee of up to 128 are taken; longer, empty or extra fields are 400", async () => {
    const id = await seedAlarm(api.db, { deviceId: "al-h", source: "rule:sizes" });
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/comments`, { text: "x".repeat(4000) })).status).toBe(201);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/comments`, { text: "x".repeat(4001) })).status).toBe(400);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/comments`, { text: "" })).status).toBe(400);
    expect((await api.call("operator", "POST", `/api/v1/alarms/${id}/comments`, { text: "hi", author: "someone else" })).status).toBe(400);
    expect((await api.call("operator", "PUT", `/api/v1/alarms/${id}/assignee`, { assignee: "a".repeat(129) })).status).toBe(400);
    expect((await api.call("operator", "PUT", `/api/v1/alarms/${id}/assignee`, {})).status).toBe(400);
    const unassigned = await api.call("operator", "PUT", `/api/v1/alarms/${id}/assignee`, { assignee: null });
    expect(unassigned.status).toBe(200);
    expect(unassigned.body.assignee).toBeNull();
  });

  test("a viewer reads alarms but may not handle them (403), and the alarm stays as it was", async () => {
    const id = await seedAlarm(api.db, { deviceId: "al-v", source: "rule:viewer" });
    expect((await api.call("viewer", "GET", `/api/v1/alarms/${id}`)).status).toBe(200);
    expect((await api.call("viewer", "POST", `/api/v1/alarms/${id}/acknowledge`)).status).toBe(403);
    expect((await api.call("viewer", "POST", `/api/v1/alarms/${id}/clear`)).status).toBe(403);
    expect((await api.call("viewer", "PUT", `/api/v1/alarms/${id}/assignee`, { assignee: "me" })).status).toBe(403);
    expect((await api.call("viewer", "POST", `/api/v1/alarms/${id}/comments`, { text: "hi" })).status).toBe(403);
    expect((await api.call(null, "GET", "/api/v1/alarms")).status).toBe(401);
    const [row] = await api.db.sql`select status, acknowledged, assignee from alarms where id = ${id}`;
    expect(row).toEqual({ status: "active", acknowledged: false, assignee: null });
    const [comments] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from alarm_comments where alarm_id = ${id}`;
    expect(comments!.n).toBe(0);
  });

  test("a change whose event cannot be published is answered all the same, and its event goes out with the next flush", async () => {
    // A second iot-api on the same database whose bus is gone: its publish fails after the commit.
    const deadFile = await createBusFile();
    const deps = testDeps("iot-api");
    const deadBus = await connectBus({ ...api.config.bus, url: deadFile.url, name: "dead", log: silentLogger });
    const cut = createApp(
      { ...api.config, bus: { ...api.config.bus, url: deadFile.url } },
      { ...deps, bus: shareBus(deadBus, deadFile.url, deps.obs), db: api.db },
    );
    await cut.start();
    await deadBus.close();
    try {
      const id = await seedAlarm(api.db, { deviceId: "al-o", source: "rule:cut" });
      const seen = api.events.length;
      const answer = await cut.handle(
        new Request(`http://localhost:8080/api/v1/alarms/${id}/acknowledge`, {
          method: "POST",
          headers: { authorization: `Bearer ${await testToken("operator")}` },
        }),
      );
      expect(answer.status).toBe(200);
      const waiting = async () => (await api.db.sql<{ n: number }[]>`select count(*)::int as n from alarm_outbox`)[0]!.n;
      await Bun.sleep(100);
      expect(await waiting()).toBe(1);

      // Any later change flushes the outbox: the event kept is published first.
      expect((await api.call("operator", "PUT", `/api/v1/alarms/${id}/assignee`, { assignee: "kim" })).status).toBe(200);
      const events = (await api.eventsReach(seen + 2)).slice(seen);
      expect(events.map((e) => e.data.change)).toEqual(["acknowledged", "assigned"]);
      await api.outboxDrained();
    } finally {
      await cut.stop();
      await deadFile.dispose();
    }
  });
});
