import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verifySecret } from "@umos/auth";
import { credentialRepository } from "@umos/store";
import { testToken } from "@umos/testkit";
import { type AlarmApi, startAlarmApi } from "./alarm-api";

/** Device search, groups and bulk provisioning through iot-api in process, on a real PostgreSQL. */
let api: AlarmApi;
let admin: string;

const MODEL = { properties: [{ identifier: "firmware_version", accessMode: "r", dataType: { type: "text", specs: { length: 32 } } }] };

beforeAll(async () => {
  api = await startAlarmApi();
  admin = await testToken("admin");
  expect((await api.call("admin", "POST", "/api/v1/thing-models", { id: "dock", definition: MODEL })).status).toBe(201);
  expect((await api.call("admin", "PUT", "/api/v1/thing-models/dock", { definition: MODEL })).status).toBe(200);
  expect((await api.call("admin", "POST", "/api/v1/groups", { id: "dynamic-docks", query: 'model = "dock"' })).status).toBe(201);
}, 30_000);

afterAll(async () => {
  await api?.dispose();
}, 30_000);

/** A bulk import as an admin, the body sent as `contentType`. */
async function upload(body: string, contentType: string, query = "", accept = "application/json") {
  const res = await api.api.handle(
    new Request(`http://localhost:8080/api/v1/devices/import${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": contentType, accept },
      body,
    }),
  );
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const ids = (body: unknown) => (body as { items: { id: string }[] }).items.map((d) => d.id);

describe("device search", () => {
  test("devices carry tags, and q searches them with the query language, counted on request", async () => {
    for (const [id, tags] of [
      ["lamp-roof", ["roof", "north"]],
      ["lamp-yard", ["yard"]],
    ] as const)
      expect((await api.call("admin", "POST", "/api/v1/devices", { id, vendor: "generic", tags })).status).toBe(201);
    expect((await api.call("admin", "PATCH", "/api/v1/devices/lamp-yard", { tags: ["yard", "north"] })).body).toMatchObject({ tags: ["yard", "north"] });
    const found = await api.call("viewer", "GET", `/api/v1/devices?q=${encodeURIComponent('tag = "north" and id ~ "lamp"')}&count=true&limit=1`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ items: [{ id: "lamp-roof", tags: ["roof", "north"] }], nextCursor: "lamp-roof", total: 2 });
    const refused = await api.call("viewer", "GET", `/api/v1/devices?q=${encodeURIComponent("vendor = apple")}`);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { code: "invalid_query", message: "at column 10: 'apple' is not a vendor; one of dji, tuya, generic" } });
  });
});

describe("device groups", () => {
  test("an admin makes a static group and lists devices into it; viewers read it; the device shows its groups", async () => {
    expect((await api.call("operator", "POST", "/api/v1/groups", { id: "north" })).status).toBe(403);
    const created = await api.call("admin", "POST", "/api/v1/groups", { id: "north", name: "North site" });
    expect(created).toMatchObject({ status: 201, body: { id: "north", kind: "static", query: null } });
    expect((await api.call("admin", "POST", "/api/v1/groups/north/members", { deviceIds: ["lamp-roof", "nope"] })).status).toBe(400);
    expect((await api.call("admin", "POST", "/api/v1/groups/north/members", { deviceIds: ["lamp-roof"] })).body).toEqual({ added: 1 });
    expect((await api.call("viewer", "GET", "/api/v1/groups/north")).body).toMatchObject({ memberCount: 1 });
    expect(ids((await api.call("viewer", "GET", "/api/v1/groups/north/members")).body)).toEqual(["lamp-roof"]);
    expect((await api.call("viewer", "GET", "/api/v1/devices/lamp-roof")).body).toMatchObject({ groups: ["north"] });
    expect((await api.call("admin", "DELETE", "/api/v1/groups/north/members/lamp-roof")).status).toBe(204);
    expect((await api.call("viewer", "GET", "/api/v1/groups/north")).body).toMatchObject({ memberCount: 0 });
  });

  test("a dynamic group is a saved query: checked when saved, members when read, and guards the groups it names", async () => {
    expect((await api.call("admin", "POST", "/api/v1/groups", { id: "bad", query: "online = maybe" })).body).toMatchObject({
      error: { code: "invalid_query" },
    });
    expect((await api.call("admin", "POST", "/api/v1/groups", { id: "north-lamps", query: 'tag = "north" and not group = "north"' })).status).toBe(201);
    expect(ids((await api.call("viewer", "GET", "/api/v1/groups/north-lamps/members")).body)).toEqual(["lamp-roof", "lamp-yard"]);
    expect((await api.call("admin", "POST", "/api/v1/groups/north-lamps/members", { deviceIds: ["lamp-roof"] })).body).toMatchObject({
      error: { code: "dynamic_group" },
    });
    expect((await api.call("admin", "DELETE", "/api/v1/groups/north")).status).toBe(409);
    expect((await api.call("admin", "PATCH", "/api/v1/groups/north-lamps", { query: 'tag = "yard"' })).body).toMatchObject({ query: 'tag = "yard"' });
    expect((await api.call("admin", "DELETE", "/api/v1/groups/north")).status).toBe(204);
    expect((await api.call("viewer", "GET", "/api/v1/groups")).body).toMatchObject({ items: [{ id: "dynamic-docks" }, { id: "north-lamps" }] });
  });
});

describe("bulk provisioning", () => {
  test("a dry run reports every bad row with its line and reason, and imports nothing", async () => {
    await api.call("admin", "POST", "/api/v1/groups", { id: "site-a" });
    const csv = [
      "id,vendor,name,model,tags,groups,metadata,metadata.site",
      "dock-1,dji,Dock one,dock@1,roof;north,site-a,,A",
      "dock-2,apple,Dock two,,,,,",
      "dock-1,dji,again,,,,,",
      "lamp-roof,generic,taken,,,,,",
      "dock-3,dji,,ghost,,,,",
      "dock-4,dji,,dock@9,,,,",
      "dock-5,dji,,,,nowhere;dynamic-docks,,",
      "dock-6,dji,,,,,{not json},",
      'dock-7,dji,,,,,"{""site"":""B""}",A',
      "dock-8,dji",
      "dock-9,tuya,Fine,,,,,",
    ].join("\n");
    const dry = await upload(csv, "text/csv", "?dryRun=true");
    expect(dry.status).toBe(200);
    expect(JSON.parse(dry.text)).toEqual({
      rows: 11,
      valid: false,
      errors: [
        { line: 3, id: "dock-2", reason: "vendor: one of dji, tuya, generic" },
        { line: 4, id: "dock-1", reason: "device 'dock-1' is also on line 2" },
        { line: 5, id: "lamp-roof", reason: "device 'lamp-roof' is already registered" },
        { line: 6, id: "dock-3", reason: "thing model 'ghost' does not exist" },
        { line: 7, id: "dock-4", reason: "version 9 of thing model 'dock' does not exist" },
        { line: 8, id: "dock-5", reason: "device group 'nowhere' does not exist" },
        { line: 8, id: "dock-5", reason: "device group 'dynamic-docks' is dynamic: its members are the devices its query matches" },
        { line: 9, id: "dock-6", reason: "metadata is not JSON (a JSON object, or metadata.<key> columns)" },
        { line: 10, id: "dock-7", reason: "metadata.site is set twice: in its column and in the metadata JSON" },
        { line: 11, id: "dock-8", reason: "2 cells; the header has 8" },
      ],
    });
    const refused = await upload(csv, "text/csv");
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toMatchObject({ error: { code: "invalid_import", details: { errors: { length: 10 } } } });
    expect((await api.call("viewer", "GET", "/api/v1/devices/dock-9")).status).toBe(404);
  });

  test("a good CSV is imported in one go, with tags, groups, model and metadata, and answers with working credentials as a download", async () => {
    const csv = ["id,vendor,name,model,tags,groups,metadata.site", "dock-1,dji,Dock one,dock@1,roof;north,site-a,A", "dock-9,tuya,Plug,,,,B"].join("\r\n");
    const done = await upload(csv, "text/csv", "", "text/csv");
    expect(done.status).toBe(201);
    expect(done.headers.get("content-disposition")).toStartWith('attachment; filename="umos-credentials-');
    expect(done.headers.get("cache-control")).toBe("no-store");
    const [header, ...lines] = done.text.trim().split("\r\n");
    expect(header).toBe("username,password");
    expect(lines.map((l) => l.split(",")[0])).toEqual(["dock-1", "dock-9"]);
    const logins = credentialRepository(api.db.sql);
    for (const line of lines) {
      const [username, password] = line.split(",") as [string, string];
      expect(await verifySecret(password, (await logins.login(username))!.secretHash!)).toBe(true);
    }
    expect((await api.call("viewer", "GET", "/api/v1/devices/dock-1")).body).toMatchObject({
      name: "Dock one",
      vendor: "dji",
      model: { id: "dock", version: 1 },
      tags: ["roof", "north"],
      metadata: { site: "A" },
      groups: ["site-a"],
    });
    expect(ids((await api.call("viewer", "GET", `/api/v1/devices?q=${encodeURIComponent('metadata.site = "B" and vendor = tuya')}`)).body)).toEqual(["dock-9"]);
  });

  test("JSON takes the same rows, the model's latest version when none is named, and refuses unknown fields", async () => {
    const done = await upload(
      JSON.stringify({ devices: [{ id: "sensor-1", vendor: "generic", model: { id: "dock" }, tags: ["lab"], metadata: { floor: 2 } }] }),
      "application/json",
    );
    expect(done.status).toBe(201);
    expect(JSON.parse(done.text)).toMatchObject({ imported: 1, credentials: [{ username: "sensor-1" }] });
    expect((await api.call("viewer", "GET", "/api/v1/devices/sensor-1")).body).toMatchObject({ model: { id: "dock", version: 2 }, metadata: { floor: 2 } });
    const bad = await upload(JSON.stringify([{ id: "sensor-2", vendor: "generic", colour: "red" }, "x"]), "application/json", "?dryRun=true");
    expect(JSON.parse(bad.text)).toMatchObject({
      valid: false,
      errors: [
        { line: 1, reason: "'colour': not a field" },
        { line: 2, reason: "a device is a JSON object" },
      ],
    });
  });

  test("refuses other media types, an empty file and more than 10,000 rows with a clear 4xx", async () => {
    expect((await upload("id,vendor\n", "text/plain")).status).toBe(400);
    expect(JSON.parse((await upload("id,vendor\n", "text/csv")).text)).toMatchObject({ error: { code: "no_rows" } });
    expect(JSON.parse((await upload('id,vendor\n"a,dji\n', "text/csv")).text)).toMatchObject({ error: { code: "invalid_csv" } });
    expect(JSON.parse((await upload("id,colour\na,red\n", "text/csv")).text).error.message).toContain("'colour' is not a column");
    const many = ["id,vendor", ...Array.from({ length: 10_001 }, (_, i) => `bulk-${i},generic`)].join("\n");
    expect(JSON.parse((await upload(many, "text/csv")).text)).toMatchObject({ error: { code: "too_many_rows" } });
  });
});
