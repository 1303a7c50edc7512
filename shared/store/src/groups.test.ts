import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UmosError } from "@umos/core";
import type { Database } from "./database";
import { scratchDatabase } from "./scratch-database";
import { deviceRepository } from "./devices";
import { groupRepository } from "./groups";

let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
let db: Database;
let devices: ReturnType<typeof deviceRepository>;
let groups: ReturnType<typeof groupRepository>;

beforeAll(async () => {
  scratch = await scratchDatabase("groups");
  db = scratch.db;
  devices = deviceRepository(db.sql);
  groups = groupRepository(db.sql);
  await devices.create({ id: "dock-old", vendor: "dji", name: "North roof dock", tags: ["roof", "north"], metadata: { site: "north", floor: 3 } });
  await devices.create({ id: "dock-new", vendor: "dji", name: "South dock", tags: ["south"], metadata: { site: "south", floor: 12 } });
  await devices.create({ id: "plug-1", vendor: "tuya", name: "Kitchen 100%_plug", tags: ["roof"], metadata: { site: "north", nested: { a: [1, 2] } } });
  await devices.create({ id: "sensor-1", vendor: "generic", name: "it's a sensor" });
  const state = (id: string, property: string, value: unknown) =>
    db.sql`insert into device_state (device_id, property, value, reported_at) values (${id}, ${property}, ${db.sql.json(value as never)}::jsonb, now())`;
  await state("dock-old", "firmware_version", "9.2.0");
  await state("dock-new", "firmware_version", "10.1.8");
  await state("dock-old", "drone_charge_state", { capacity_percent: 15, state: 1 });
  await state("dock-new", "drone_charge_state", { capacity_percent: 80, state: 0 });
  await state("plug-1", "firmware_version", null);
  await db.sql`update devices set online = true, last_seen_at = now() where id in ('dock-new', 'plug-1')`;
  await db.sql`update devices set last_seen_at = now() - interval '2 hours' where id = 'dock-old'`;
});

afterAll(async () => {
  await scratch?.dispose();
});

const ids = async (query: string) => (await devices.list({ limit: 100, query })).items.map((d) => d.id);
const refusal = (run: Promise<unknown>) =>
  run.then(
    () => undefined,
    (err: unknown) => (err instanceof UmosError ? `${err.code}: ${err.message}` : String(err)),
  );

describe("device queries on PostgreSQL", () => {
  test.each([
    ['vendor = dji and online and state.firmware_version < "10.1.8"', []],
    ['vendor = dji and state.firmware_version < "10.1.8"', ["dock-old"]],
    ['state.firmware_version >= "10"', ["dock-new"]],
    ['state.firmware_version > "9.2"', ["dock-new", "dock-old"]],
    ['state.firmware_version <= "9.2.0"', ["dock-old"]],
    // Natural order, not semver: a suffix sorts after the bare version.
    ['state.firmware_version < "10.1.8-rc"', ["dock-new", "dock-old"]],
    ["state.drone_charge_state.capacity_percent < 20", ["dock-old"]],
    ["state.drone_charge_state.capacity_percent != 15", ["dock-new", "plug-1", "sensor-1"]],
    ["state.firmware_version = null", ["plug-1", "sensor-1"]],
    ["state.firmware_version != null", ["dock-new", "dock-old"]],
    ['tag = "roof"', ["dock-old", "plug-1"]],
    ['tags in ("south", "north")', ["dock-new", "dock-old"]],
    ['tag != "roof"', ["dock-new", "sensor-1"]],
    ['metadata.site = "north"', ["dock-old", "plug-1"]],
    ["metadata.floor > 5", ["dock-new"]],
    ["metadata.nested.a = null", ["dock-new", "dock-old", "sensor-1"]],
    ["metadata.site = null", ["sensor-1"]],
    ['metadata.site ~ "OUT"', ["dock-new"]],
    ['name ~ "100%_"', ["plug-1"]],
    ['name ~ "0%x"', []],
    ['"dock"', ["dock-new", "dock-old"]],
    ["last_seen < 1h ago", ["dock-old"]],
    ["last_seen = null", ["sensor-1"]],
    ["not online", ["dock-old", "sensor-1"]],
    ["vendor in (tuya, generic)", ["plug-1", "sensor-1"]],
    ['created > "2000-01-01T00:00:00Z" and model = null and gateway = null', ["dock-new", "dock-old", "plug-1", "sensor-1"]],
  ])("%p matches %p", async (query, expected) => {
    expect(await ids(query)).toEqual(expected);
  });

  test("counts what it lists, and pages in id order", async () => {
    expect(await devices.count({ query: 'tag = "roof" or vendor = dji' })).toBe(3);
    const first = await devices.list({ limit: 2, query: 'tag = "roof" or vendor = dji' });
    expect(first.items.map((d) => d.id)).toEqual(["dock-new", "dock-old"]);
    const second = await devices.list({ limit: 2, after: first.nextCursor!, query: 'tag = "roof" or vendor = dji' });
    expect(second).toMatchObject({ items: [{ id: "plug-1" }], nextCursor: null });
  });

  test("injection attempts are values or refusals, never SQL", async () => {
    const before = await devices.count({});
    for (const query of [
      `id = "x' or '1'='1"`,
      `name = "'; drop table devices; --"`,
      `metadata.site = "north\\" or 1=1 --"`,
      `state.firmware_version < "9'); delete from devices; --"`,
      `tag = "roof}'::text[] or true --"`,
      `name ~ "%%"`,
      `id ~ "_"`,
      `"' or 1=1 --"`,
    ])
      expect(await ids(query)).toEqual([]);
    expect(await refusal(ids("metadata.site' = 1"))).toContain("invalid_query");
    expect(await refusal(ids("state.x) or (1 = 1"))).toContain("invalid_query");
    expect(await devices.count({})).toBe(before);
  });
});

describe("device groups", () => {
  test("a static group lists its members, added all or none, and is what group = names", async () => {
    await groups.create({ id: "site-north", name: "North site" });
    expect(await refusal(groups.addMembers("site-north", ["dock-old", "no-such-device"]))).toContain("unknown_device");
    expect(await ids('group = "site-north"')).toEqual([]);
    expect(await groups.addMembers("site-north", ["dock-old", "plug-1", "dock-old"])).toBe(2);
    expect(await groups.addMembers("site-north", ["dock-old"])).toBe(0);
    expect(await ids('group = "site-north"')).toEqual(["dock-old", "plug-1"]);
    expect(await groups.groupsOf("plug-1")).toEqual(["site-north"]);
    await groups.removeMember("site-north", "plug-1");
    expect(await ids('group = "site-north" or vendor = generic')).toEqual(["dock-old", "sensor-1"]);
    expect(await refusal(groups.removeMember("site-north", "plug-1"))).toContain("not_found");
  });

  test("a dynamic group is its query, may name other groups, and takes no members", async () => {
    const group = await groups.create({ id: "old-dji", query: 'vendor = dji and state.firmware_version < "10"' });
    expect(group).toMatchObject({ kind: "dynamic", query: 'vendor = dji and state.firmware_version < "10"' });
    await groups.create({ id: "old-north", query: 'group = "old-dji" and group = "site-north"' });
    expect(await ids('group = "old-north"')).toEqual(["dock-old"]);
    expect(await ids('not group = "old-north"')).toEqual(["dock-new", "plug-1", "sensor-1"]);
    expect(await refusal(groups.addMembers("old-dji", ["dock-new"]))).toContain("dynamic_group");
    await groups.update("old-dji", { query: "vendor = dji" });
    expect(await ids('group = "old-north"')).toEqual(["dock-old"]);
    expect(await ids('group = "old-dji"')).toEqual(["dock-new", "dock-old"]);
  });

  test("refuses queries naming unknown groups or themselves, and deleting a group another one names", async () => {
    expect(await refusal(groups.create({ id: "bad", query: 'group = "nope"' }))).toBe("invalid_query: there is no device group 'nope'");
    expect(await refusal(groups.create({ id: "selfish", query: 'group = "selfish"' }))).toContain("group 'selfish' names itself");
    expect(await refusal(groups.update("old-dji", { query: 'group = "old-north"' }))).toContain("names itself");
    expect(await refusal(groups.update("site-north", { query: "online" }))).toContain("static_group");
    expect(await refusal(groups.remove("site-north"))).toBe("conflict: device group 'site-north' is named by the query of 'old-north'; change those first");
    expect(await refusal(ids('group = "missing"'))).toContain("there is no device group 'missing'");
    await groups.remove("old-north");
    await groups.remove("site-north");
    expect(await groups.groupsOf("dock-old")).toEqual([]);
    expect(await refusal(groups.create({ id: "old-dji" }))).toContain("conflict");
  });

  test("a chain of groups naming groups is at most four deep", async () => {
    await groups.create({ id: "chain-1" });
    for (const n of [2, 3, 4]) await groups.create({ id: `chain-${n}`, query: `group = "chain-${n - 1}"` });
    expect(await refusal(groups.create({ id: "chain-5", query: 'group = "chain-4"' }))).toContain("more than 4 deep");
    expect(await ids('group = "chain-4"')).toEqual([]);
  });
});
