import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { djiDock, genericDevice, startFleet, tuyaPlug, type SimulatedDevice } from "@umos/simulator";
import { eventually, startStack, type Json, type TestStack } from "@umos/testkit";

/**
 * The "done when" through all six services as processes and simulated devices on a Mosquitto
 * of the test's own: firmware packages uploaded, then an update rolled out to a group of generic
 * devices, DJI docks and Tuya plugs in waves, surviving a restart of iot-downlink, each device ending on the new
 * version; a second rollout over devices that fail their update stops by itself at the threshold,
 * each device ending on the new version or with a reason. Devices download by the signed links their
 * commands carry, over real HTTP from iot-api.
 */
const GENERIC = 16;
const DOCKS = 4;
const PLUGS = 2;
let stack: TestStack;
let sql: postgres.Sql;
let firmwareDir: string;
let devices: SimulatedDevice[] = [];
const packages: Record<string, string> = {};

/** A package file of `size` bytes that are not all alike, so a torn download fails its checksum. */
const file = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * seed + (i >> 7)) & 0xff);

async function upload(vendor: string, version: string, bytes: Uint8Array): Promise<string> {
  const res = await fetch(`${stack.platform.apiUrl}/api/v1/firmware?vendor=${vendor}&version=${version}&fileName=${vendor}-${version}.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as Json).id;
}

beforeAll(async () => {
  firmwareDir = mkdtempSync(join(tmpdir(), "umos-e2e-firmware-"));
  stack = await startStack({ UMOS_DOWNLINK__JOB_INTERVAL_MS: "200", UMOS_FIRMWARE__DIR: firmwareDir });
  sql = postgres(stack.database.url, { max: 2, onnotice: () => {} });
  const fleet = [
    ...Array.from({ length: GENERIC }, (_, i) => genericDevice(`fw-gen-${i}`, Date.now, { failUpdates: i >= 12 })),
    ...Array.from({ length: DOCKS }, (_, i) => djiDock(`fw-dock-${i}`, Date.now, { failUpdates: i === 3 })),
    ...Array.from({ length: PLUGS }, (_, i) => tuyaPlug(`fw-plug-${i}`, Date.now, { installMs: 50 })),
  ];
  devices = await startFleet(fleet, { brokerUrl: stack.broker.url, register: { apiUrl: stack.platform.apiUrl, token: stack.token } });
  for (const d of devices) d.report();
  packages.generic = await upload("generic", "2.0.0", file(256 * 1024, 7));
  packages.dji = await upload("dji", "2.0.0", file(300 * 1024, 13));
  packages.tuya = await upload("tuya", "2.0.0", file(128 * 1024, 17));
  // Healthy ones first, then those told to fail their update (generic 12-15, dock 3).
  const healthy = [...Array.from({ length: 12 }, (_, i) => `fw-gen-${i}`), "fw-dock-0", "fw-dock-1", "fw-dock-2", "fw-plug-0", "fw-plug-1"];
  const failing = ["fw-gen-12", "fw-gen-13", "fw-gen-14", "fw-gen-15", "fw-dock-3"];
  for (const [group, members] of [
    ["site-a", healthy],
    ["site-b", failing],
  ] as const) {
    expect((await stack.api.post("/api/v1/groups", { id: group })).status).toBe(201);
    expect((await stack.api.post(`/api/v1/groups/${group}/members`, { deviceIds: members })).status).toBe(200);
  }
  await eventually(
    async () =>
      (await stack.api.get(`/api/v1/devices?q=${encodeURIComponent('state.firmware_version = "1.0.0"')}&count=true&limit=1`)).body.total >=
      GENERIC + DOCKS + PLUGS,
    20_000,
    "every device reporting firmware 1.0.0",
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await sql?.end();
  await stack?.dispose();
  rmSync(firmwareDir, { recursive: true, force: true });
});

const job = async (id: string): Promise<Json> => (await stack.api.get(`/api/v1/jobs/${id}`)).body;
const executions = async (id: string): Promise<Json[]> => (await stack.api.get(`/api/v1/jobs/${id}/executions?limit=100`)).body.items;
const versionOf = async (id: string) => (await stack.api.get(`/api/v1/devices/${id}`)).body.state.firmware_version?.value;

test("an update rolls out to generic devices, DJI docks and Tuya plugs in waves, survives a restart of iot-downlink, and each device ends on the new version", async () => {
  const created = await stack.api.post("/api/v1/jobs", {
    name: "firmware 2.0.0, site A",
    target: { group: "site-a" },
    operation: { kind: "firmware", packages: [packages.generic, packages.dji, packages.tuya] },
    rollout: { waves: [{ devices: 3 }, { percent: 100 }], waveGapMs: 300, maxInFlight: 6, timeoutMs: 30_000, ratePerMinute: 6000 },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  await eventually(async () => (await job(id)).counts.succeeded >= 3, 30_000, "the canary wave updated");
  await stack.platform.kill("downlink");
  await Bun.sleep(300);
  await stack.platform.restart("downlink");
  const done = await eventually(async () => ((await job(id)).status === "completed" ? job(id) : undefined), 60_000, "the rollout completed");
  expect(done.counts).toEqual({ pending: 0, in_progress: 0, succeeded: 17, failed: 0, timed_out: 0, cancelled: 0 });
  for (const e of await executions(id)) {
    expect({ device: e.deviceId, progress: e.progress, attempts: e.attempts }).toEqual({ device: e.deviceId, progress: 100, attempts: 1 });
    expect(await versionOf(e.deviceId)).toBe("2.0.0");
  }
  // Each device was sent the update once: the docks DJI's ota_create, the plugs TuyaLink's ota/issue, the others our ota call.
  const sent = await sql<{ service: string; devices: number; commands: number }[]>`
    select service, count(distinct device_id)::int as devices, count(*)::int as commands from commands where job_id = ${id} group by service order by service`;
  expect([...sent]).toEqual([
    { service: "ota", devices: 12, commands: 12 },
    { service: "ota.issue", devices: 2, commands: 2 },
    { service: "ota_create", devices: 3, commands: 3 },
  ]);
  // The device list shows the version each device reports.
  const listed = (await stack.api.get(`/api/v1/devices?q=${encodeURIComponent('group = "site-a"')}&limit=100`)).body.items as Json[];
  expect(listed.map((d) => d.firmwareVersion)).toEqual(listed.map(() => "2.0.0"));
  // The canary wave was done before the next wave's first command.
  const [order] = await sql<{ canaryDone: Date; nextStarted: Date }[]>`
    select max(e.updated_at) filter (where e.wave = 0) as "canaryDone", min(c.created_at) filter (where e.wave = 1) as "nextStarted"
    from job_executions e join commands c on c.id = e.command_id where e.job_id = ${id}`;
  expect(order!.nextStarted.getTime()).toBeGreaterThan(order!.canaryDone.getTime());
}, 120_000);

test("an update over devices that fail it stops by itself at the threshold, each device on the new version or with a reason", async () => {
  const created = await stack.api.post("/api/v1/jobs", {
    name: "firmware 2.0.0, site B and A",
    target: { query: 'group = "site-b" or id = "fw-gen-0"' },
    operation: { kind: "firmware", packages: [packages.generic, packages.dji] },
    rollout: { maxInFlight: 2, abort: { failurePercent: 50, minFinished: 3 }, timeoutMs: 30_000, ratePerMinute: 6000 },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const done = await eventually(
    async () => {
      const j = await job(id);
      return j.status === "aborted" && j.counts.in_progress === 0 ? j : undefined;
    },
    60_000,
    "the job aborted with nothing in flight",
  );
  expect(done.reason).toMatch(/^\d+ of \d+ finished executions failed \(\d+% > 50%\)$/);
  expect(done.counts.failed).toBeGreaterThanOrEqual(2);
  for (const e of await executions(id)) {
    if (e.status === "succeeded") expect(await versionOf(e.deviceId)).toBe("2.0.0");
    else if (e.status === "cancelled") expect(e.reason).toStartWith("the job was aborted: ");
    else {
      expect(e.status).toBe("failed");
      expect(e.reason).toMatch(/^attempt 1: (the device was told to fail the update|the device reported failed at upgrade_firmware \(result 1\))$/);
      expect(await versionOf(e.deviceId)).toBe("1.0.0");
    }
  }
}, 90_000);

test("a device already on the package's version is done without a command", async () => {
  const created = await stack.api.post("/api/v1/jobs", {
    name: "firmware 2.0.0 again",
    target: { devices: ["fw-gen-1"] },
    operation: { kind: "firmware", packages: [packages.generic] },
  });
  const id = created.body.id;
  await eventually(async () => (await job(id)).status === "completed", 20_000, "the job completed");
  expect(await executions(id)).toMatchObject([
    { deviceId: "fw-gen-1", status: "succeeded", attempts: 0, commandId: null, progress: 100, reason: "it already reports 2.0.0" },
  ]);
}, 30_000);

test("a firmware job is refused when a device in its target has no package that fits, or a package does not exist", async () => {
  const refuse = async (target: Json, packageIds: string[]) =>
    (await stack.api.post("/api/v1/jobs", { name: "x", target, operation: { kind: "firmware", packages: packageIds } })).body.error;
  expect(await refuse({ devices: ["fw-dock-0"] }, [packages.generic!])).toMatchObject({ code: "no_package" });
  expect(await refuse({ devices: ["fw-plug-0", "fw-gen-0"] }, [packages.generic!])).toMatchObject({
    code: "no_package",
    message: "the target holds tuya devices of model none, and no package of the job fits them",
  });
  expect(await refuse({ devices: ["fw-gen-0"] }, ["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"])).toMatchObject({ code: "unknown_package" });
}, 30_000);
