import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import mqtt from "mqtt";
import { eventually, jsonClient, testToken, type Json } from "@umos/testkit";
import { freeStandalonePorts, startStandalone, type StandaloneProcess } from "./standalone-process";

/**
 * `bun run backup` of a running standalone, `bun run restore` into a new directory, and UMOS started
 * on it: the same devices, message log and telemetry history. Also the backup of a stopped directory.
 */
const ROOT = resolve(import.meta.dir, "../..");
let work: string;
const running: StandaloneProcess[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "umos-backup-"));
});

afterAll(async () => {
  for (const p of running) await p.kill();
  await rm(work, { recursive: true, force: true });
});

async function start(dataDir: string) {
  const ports = await freeStandalonePorts();
  const standalone = await startStandalone(dataDir, ports);
  running.push(standalone);
  return { standalone, ports, api: jsonClient(`http://127.0.0.1:${ports.api}`, await testToken("admin")) };
}

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(["bun", "run", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out: out + err };
}

/** What a user would compare: the device, its message log, its telemetry values. */
async function state(api: ReturnType<typeof jsonClient>) {
  const device = (await api.get("/api/v1/devices/bk-1")).body;
  const log = (await api.get("/api/v1/devices/bk-1/messages?limit=100")).body.items.map((m: Json) => [m.id, m.kind, m.data]);
  const values = (await api.get("/api/v1/devices/bk-1/telemetry/values?property=temperature&limit=100")).body.values;
  return { device: { id: device.id, vendor: device.vendor, name: device.name }, log, values };
}

test("a running standalone's backup, restored into a new directory, starts with the same devices, message log and history", async () => {
  const original = join(work, "original");
  const { standalone, ports, api } = await start(original);
  const created = await api.post("/api/v1/devices", { id: "bk-1", vendor: "generic", name: "kept" });
  expect(created.status).toBe(201);
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
    protocolVersion: 4,
    clientId: "bk-1",
    username: "bk-1",
    password: created.body.credentials.password,
    reconnectPeriod: 0,
  });
  // Their own times, a second apart: reports stamped with the same millisecond are one point (docs/telemetry.md).
  const base = Date.now() - 60_000;
  for (let i = 0; i < 5; i++) {
    const report = { id: `r-${i}`, ts: base + i * 1000, data: { temperature: 20 + i } };
    await device.publishAsync("generic/bk-1/property/report", JSON.stringify(report), { qos: 1 });
  }
  await device.endAsync();
  let seen: Awaited<ReturnType<typeof state>> | undefined;
  const before = await eventually(
    async () => {
      seen = await state(api);
      return seen.log.length === 5 && seen.values.length === 5 ? seen : undefined;
    },
    30_000,
    "five reports stored and in the history",
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify(seen)}\n${standalone.output()}`);
  });

  const file = join(work, "umos.backup");
  const backup = await run("backup", "--", "--data-dir", original, "--out", file);
  expect(backup).toMatchObject({ code: 0 });
  expect(backup.out).toContain("postgres.tar.gz");
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  await standalone.stop();

  const copy = join(work, "restored");
  const restore = await run("restore", "--", "--from", file, "--data-dir", copy);
  expect(restore).toMatchObject({ code: 0 });
  expect(restore.out).toContain(`bun run start -- --data-dir ${copy}`);
  const again = await run("restore", "--", "--from", file, "--data-dir", copy);
  expect(again.code).toBe(1);
  expect(again.out).toContain("is not empty");

  const restored = await start(copy);
  expect(await state(restored.api)).toEqual(before);
  // The device logs in with the password it had: its credentials came back with the registry.
  const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${restored.ports.mqtt}`, {
    protocolVersion: 4,
    clientId: "bk-1",
    username: "bk-1",
    password: created.body.credentials.password,
    reconnectPeriod: 0,
  });
  await back.endAsync();
  await restored.standalone.stop();

  // A stopped directory is read by the command itself.
  const offline = await run("backup", "--", "--data-dir", original, "--out", join(work, "offline.backup"));
  expect(offline).toMatchObject({ code: 0 });
  const damaged = join(work, "damaged.backup");
  await Bun.write(damaged, "not a snapshot");
  expect((await run("restore", "--", "--from", damaged, "--data-dir", join(work, "never"))).code).toBe(1);
}, 180_000);
