import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeBatch } from "@umos/store";
import { type AlarmApi, seedAlarm, startAlarmApi } from "./alarm-api";

/** The rule routes on a real PostgreSQL and the embedded bus, iot-api driven in process. */
let api: AlarmApi;

const PACK = {
  properties: [
    { identifier: "battery", accessMode: "r", dataType: { type: "int", specs: { min: 0, max: 100 } } },
    { identifier: "label", accessMode: "r", dataType: { type: "text", specs: { length: 64 } } },
  ],
  events: [{ identifier: "fault", type: "error", outputData: [] }],
};
const METER = { properties: [{ identifier: "power", accessMode: "r", dataType: { type: "float", specs: {} } }] };

/** The example: below 20 % for a minute raises; only above 25 % clears (hysteresis). */
const BATTERY_LOW = {
  levels: [{ severity: "minor", when: { property: "battery", op: "lt", value: 20 }, forMs: 60_000 }],
  clear: { when: { property: "battery", op: "gt", value: 25 } },
};

beforeAll(async () => {
  api = await startAlarmApi();
  for (const [id, definition] of [
    ["battery-pack", PACK],
    ["dry-pack", PACK],
    ["meter", METER],
  ] as const) {
    expect((await api.call("admin", "POST", "/api/v1/thing-models", { id, definition })).status).toBe(201);
  }
  for (const [id, model] of [
    ["bp-1", "battery-pack"],
    ["bp-2", "battery-pack"],
    ["meter-1", "meter"],
    ["plain-1", undefined],
    ["dr-1", "dry-pack"],
    ["dr-2", "dry-pack"],
    ["dr-quiet", "dry-pack"],
  ] as const) {
    expect((await api.call("admin", "POST", "/api/v1/devices", { id, vendor: "generic", ...(model ? { model: { id: model } } : {}) })).status).toBe(201);
  }
}, 30_000);

afterAll(async () => {
  await api?.dispose();
}, 30_000);

describe("rules", () => {
  test("an admin creates a rule for a thing model; it is listed with its status, and a change is a new version", async () => {
    const created = await api.call("admin", "POST", "/api/v1/rules", {
      id: "battery-low",
      name: "Battery low",
      model: "battery-pack",
      definition: BATTERY_LOW,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: "battery-low",
      version: 1,
      name: "Battery low",
      enabled: true,
      model: "battery-pack",
      devices: [],
      definition: BATTERY_LOW,
      createdBy: "test-admin",
    });
    expect(
      (await api.call("admin", "POST", "/api/v1/rules", { id: "battery-low", name: "again", model: "battery-pack", definition: BATTERY_LOW })).status,
    ).toBe(409);

    const changed = await api.call("admin", "PUT", "/api/v1/rules/battery-low", {
      name: "Battery low (v2)",
      enabled: false,
      model: "battery-pack",
      definition: BATTERY_LOW,
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ version: 2, name: "Battery low (v2)", enabled: false });
    expect((await api.call("viewer", "GET", "/api/v1/rules/battery-low")).body).toMatchObject({ version: 2, enabled: false });
    expect((await api.call("viewer", "GET", "/api/v1/rules/battery-low?version=1")).body).toMatchObject({ version: 1, name: "Battery low" });
    expect((await api.call("viewer", "GET", "/api/v1/rules/battery-low?version=3")).status).toBe(404);
    const versions = await api.call("viewer", "GET", "/api/v1/rules/battery-low/versions");
    expect(versions.body.map((r: { version: number }) => r.version)).toEqual([2, 1]);
    expect((await api.call("viewer", "GET", "/api/v1/rules/no-such-rule")).status).toBe(404);
    expect((await api.call("admin", "PUT", "/api/v1/rules/no-such-rule", { name: "x", model: "battery-pack", definition: BATTERY_LOW })).status).toBe(404);

    // How iot-rules got on with it: a device's state with its last error, and an active alarm.
    await api.db.sql`
      insert into alarm_rule_state (rule_id, device_id, rule_version, evaluated_at, last_error)
      values ('battery-low', 'bp-1', 2, '2025-06-15T10:00:00Z', 'battery: not a number')`;
    await seedAlarm(api.db, { deviceId: "bp-1", source: "rule:battery-low", ruleId: "battery-low" });
    const listed = await api.call("viewer", "GET", "/api/v1/rules");
    expect(listed.status).toBe(200);
    expect(listed.body.find((r: { id: string }) => r.id === "battery-low")).toMatchObject({
      version: 2,
      status: { devices: 1, evaluatedAt: "2025-06-15T10:00:00.000Z", lastError: "battery: not a number", activeAlarms: 1 },
    });
  });

  test("a rule for listed devices is checked against each device's thing model; a device without one passes; an unknown device is named", async () => {
    const body = (id: string, devices: string[]) => ({ id, name: id, devices, definition: BATTERY_LOW });
    const created = await api.call("admin", "POST", "/api/v1/rules", body("pair", ["bp-1", "plain-1"]));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ model: null, devices: ["bp-1", "plain-1"] });

    const wrongModel = await api.call("admin", "POST", "/api/v1/rules", body("mixed", ["bp-1", "meter-1"]));
    expect(wrongModel.status).toBe(400);
    expect(wrongModel.body.error).toMatchObject({
      code: "invalid_rule",
      message: "/definition/levels/0/when/property: thing model meter@1 has no property 'battery'",
    });
    const unknown = await api.call("admin", "POST", "/api/v1/rules", body("ghostly", ["bp-1", "ghost"]));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe("/devices/1: device 'ghost' does not exist");
  });

  test("a definition that does not fit is refused with the path of the bad field, and nothing is stored", async () => {
    const refused = async (body: Record<string, unknown>, path: string) => {
      const res = await api.call("admin", "POST", "/api/v1/rules", { id: "bad", name: "bad", model: "battery-pack", ...body });
      expect(res.status).toBe(400);
      expect(res.body.error.message.startsWith(`${path}: `)).toBe(true);
    };
    const level = (when: unknown, extra: Record<string, unknown> = {}) => ({ definition: { levels: [{ severity: "major", when, ...extra }] } });
    await refused(level({ property: "voltage", op: "lt", value: 3 }), "/definition/levels/0/when/property");
    await refused(level({ property: "battery", op: "lt", value: "low" }), "/definition/levels/0/when/value");
    await refused(level({ property: "label", op: "gt", value: "a" }), "/definition/levels/0/when/value");
    await refused(level({ event: "fault" }, { forMs: 1000 }), "/definition/levels/0/forMs");
    await refused(level({ event: "overheat" }), "/definition/levels/0/when/event");
    await refused(
      level({
        all: [
          { property: "battery", op: "lt", value: 5 },
          { property: "nope", changed: true },
        ],
      }),
      "/definition/levels/0/when/all/1/property",
    );
    await refused({ definition: { levels: [] } }, "/definition/levels");
    await refused({ model: "no-such-model", definition: BATTERY_LOW }, "/model");
    await refused({ devices: ["bp-1"], definition: BATTERY_LOW }, "/model");
    expect((await api.call("admin", "POST", "/api/v1/rules", { id: "bad", name: "bad", definition: BATTERY_LOW })).status).toBe(400);
    expect((await api.call("admin", "POST", "/api/v1/rules", { id: "has space", name: "x", model: "battery-pack", definition: BATTERY_LOW })).status).toBe(400);
    expect((await api.call("admin", "GET", "/api/v1/rules/bad")).status).toBe(404);
  });

  test("only an admin writes rules; viewers read them", async () => {
    const body = { id: "by-operator", name: "x", model: "battery-pack", definition: BATTERY_LOW };
    expect((await api.call("operator", "POST", "/api/v1/rules", body)).status).toBe(403);
    expect((await api.call("operator", "PUT", "/api/v1/rules/battery-low", body)).status).toBe(403);
    expect((await api.call("operator", "DELETE", "/api/v1/rules/battery-low")).status).toBe(403);
    expect((await api.call("viewer", "GET", "/api/v1/rules")).status).toBe(200);
  });

  test("removing a rule clears its active alarms, announces each, and drops every version and its state", async () => {
    expect((await api.call("admin", "POST", "/api/v1/rules", { id: "doomed", name: "Doomed", model: "battery-pack", definition: BATTERY_LOW })).status).toBe(
      201,
    );
    expect((await api.call("admin", "PUT", "/api/v1/rules/doomed", { name: "Doomed v2", model: "battery-pack", definition: BATTERY_LOW })).status).toBe(200);
    await api.db.sql`insert into alarm_rule_state (rule_id, device_id, rule_version) values ('doomed', 'bp-1', 2), ('doomed', 'bp-2', 2)`;
    const active = await seedAlarm(api.db, { deviceId: "bp-1", source: "rule:doomed", ruleId: "doomed" });
    const earlier = await seedAlarm(api.db, { deviceId: "bp-2", source: "rule:doomed", ruleId: "doomed", status: "cleared" });
    const bystander = await seedAlarm(api.db, { deviceId: "bp-2", source: "rule:other" });
    const seen = api.events.length;

    expect((await api.call("admin", "DELETE", "/api/v1/rules/doomed")).status).toBe(204);
    const rows = await api.db.sql<{ id: string; status: string; clearedBy: string | null }[]>`
      select id, status, cleared_by as "clearedBy" from alarms where id in ${api.db.sql([active, earlier, bystander])}`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[active]).toMatchObject({ status: "cleared", clearedBy: "rule doomed deleted" });
    expect(byId[earlier]!.clearedBy).toBeNull();
    expect(byId[bystander]!.status).toBe("active");

    const events = (await api.eventsReach(seen + 1)).slice(seen);
    expect(events.map((e) => [e.routingKey, e.data.change, e.data.by, e.data.alarm.id, e.data.alarm.clearedBy])).toEqual([
      ["iot.generic.event.alarm.cleared", "cleared", "test-admin", active, "rule doomed deleted"],
    ]);
    expect((await api.call("viewer", "GET", "/api/v1/rules/doomed")).status).toBe(404);
    expect((await api.call("viewer", "GET", "/api/v1/rules/doomed/versions")).status).toBe(404);
    const [state] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from alarm_rule_state where rule_id = 'doomed'`;
    expect(state!.n).toBe(0);
    expect((await api.call("admin", "DELETE", "/api/v1/rules/doomed")).status).toBe(404);
  });
});

describe("dry run", () => {
  const t0 = Date.parse("2025-06-15T10:00:00Z");
  const range = { from: "2025-06-15T10:00:00Z", to: "2025-06-15T10:10:00Z" };
  const dryRule = { model: "dry-pack", definition: BATTERY_LOW };

  beforeAll(async () => {
    const report = (deviceId: string, second: number, data: Record<string, unknown>, kind = "property.report") => ({
      envelope: { id: Bun.randomUUIDv7(), ts: t0 + second * 1000, vendor: "generic" as const, deviceId, kind, data },
      dedupeKey: `${deviceId}-${second}-${kind}`,
      receivedAt: t0 + second * 1000,
    });
    await writeBatch(api.db.sql, [
      // Below 20 from 10 s on: raised once it has held 60 s (at 70 s, between messages); 22 is not
      // above 25, so it stays; 27 clears. The dip at 200 s lasts 30 s: nothing.
      ...[
        [0, 50],
        [10, 18],
        [40, 15],
        [100, 22],
        [130, 27],
        [200, 19],
        [230, 30],
      ].map(([s, battery]) => report("dr-1", s!, { battery })),
      report("dr-1", 300, { event: "fault", data: {} }, "event.report"),
      // Low from the start and never recovering: raised at 60 s, still up at the end.
      report("dr-2", 0, { battery: 10 }),
      report("dr-2", 5, {}, "status.online"),
      // Outside the range: not read.
      report("dr-1", 3600, { battery: 1 }),
    ]);
  });

  const transitions = (body: { transitions: { deviceId: string; at: string; action: string; severity: string }[] }) =>
    body.transitions.map((t) => [t.deviceId, (Date.parse(t.at) - t0) / 1000, t.action, t.severity]);

  test("battery below 20 for 60 s raises and only above 25 clears, with nothing raised or written", async () => {
    const res = await api.call("operator", "POST", "/api/v1/rules/dry-run", { rule: dryRule, ...range });
    expect(res.status).toBe(200);
    expect(transitions(res.body)).toEqual([
      ["dr-1", 70, "raise", "minor"],
      ["dr-1", 130, "clear", "minor"],
      ["dr-2", 60, "raise", "minor"],
    ]);
    expect(res.body.transitions[0].details).toMatchObject({ values: { battery: 15 } });
    expect(res.body).toMatchObject({ messages: 10, devices: 3 });

    const [written] = await api.db.sql<{ alarms: number; outbox: number; state: number }[]>`
      select (select count(*)::int from alarms where device_id like 'dr-%') as alarms,
             (select count(*)::int from alarm_outbox) as outbox,
             (select count(*)::int from alarm_rule_state where device_id like 'dr-%') as state`;
    expect(written).toEqual({ alarms: 0, outbox: 0, state: 0 });
  });

  test("a dry run of one device, or of a stored rule by its id, reads only what it applies to", async () => {
    const one = await api.call("operator", "POST", "/api/v1/rules/dry-run", { rule: dryRule, device: "dr-2", ...range });
    expect(transitions(one.body)).toEqual([["dr-2", 60, "raise", "minor"]]);
    expect(one.body).toMatchObject({ messages: 2, devices: 1 });

    expect((await api.call("admin", "POST", "/api/v1/rules", { id: "dry-stored", name: "Dry", devices: ["dr-1"], definition: BATTERY_LOW })).status).toBe(201);
    const stored = await api.call("admin", "POST", "/api/v1/rules/dry-run", { ruleId: "dry-stored", ...range });
    expect(stored.status).toBe(200);
    expect(transitions(stored.body)).toEqual([
      ["dr-1", 70, "raise", "minor"],
      ["dr-1", 130, "clear", "minor"],
    ]);
    expect((await api.call("admin", "POST", "/api/v1/rules/dry-run", { ruleId: "no-such-rule", ...range })).status).toBe(404);
  });

  test("a dry run past a limit is refused naming the limit, and viewers may not run one", async () => {
    const refused = async (body: Record<string, unknown>, says: string) => {
      const res = await api.call("operator", "POST", "/api/v1/rules/dry-run", body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(says);
    };
    await refused({ rule: dryRule, from: "2025-06-01T00:00:00Z", to: "2025-07-03T00:00:00Z" }, "at most 31 days");
    await refused({ rule: dryRule, from: range.to, to: range.from }, "from must be before to");
    await refused({ rule: dryRule, device: "bp-1", ...range }, "/device: the rule does not apply to device 'bp-1'");
    await refused({ rule: dryRule, device: "ghost", ...range }, "/device");
    await refused({ rule: dryRule, ruleId: "dry-stored", ...range }, "/rule");
    await refused({ ...range }, "/rule");
    await refused(
      { rule: { model: "dry-pack", definition: { levels: [{ severity: "major", when: { property: "volts", op: "lt", value: 1 } }] } }, ...range },
      "/rule/definition/levels/0/when/property",
    );

    await api.db.sql`insert into devices (id, vendor) select 'many-' || g, 'generic' from generate_series(1, 101) g`;
    const many = Array.from({ length: 101 }, (_, i) => `many-${i + 1}`);
    await refused({ rule: { devices: many, definition: BATTERY_LOW }, ...range }, "at most 100");

    await api.db.sql`insert into devices (id, vendor) values ('flood-1', 'generic')`;
    await api.db.sql`
      insert into message_log (id, device_id, dedupe_key, vendor, kind, ts, received_at, data)
      select gen_random_uuid(), 'flood-1', 'flood-' || g, 'generic', 'property.report',
        ${new Date(t0)}::timestamptz + g * interval '1 ms', now(), '{"battery": 50}'::jsonb
      from generate_series(1, 100001) g`;
    await refused({ rule: { devices: ["flood-1"], definition: BATTERY_LOW }, ...range }, "at most 100000");

    expect((await api.call("viewer", "POST", "/api/v1/rules/dry-run", { rule: dryRule, ...range })).status).toBe(403);
  }, 30_000);
});
