import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually, jsonClient, testToken, wsDashboard, type Json } from "@umos/testkit";
import { freeStandalonePorts, startStandalone, type StandalonePorts, type StandaloneProcess } from "../standalone/standalone-process";

/**
 * The README's first minute: `bun run start`, then `bun run simulate` as a user runs it (the script,
 * its default MQTT 3.1.1, against the embedded broker): data flows from every vendor's devices and a
 * command to each of them is acked; the hour of history it sends first is in the telemetry API.
 */
let dataDir: string;
let ports: StandalonePorts;
let standalone: StandaloneProcess | undefined;
let simulator: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "umos-simulate-"));
  ports = await freeStandalonePorts();
  standalone = await startStandalone(dataDir, ports);
}, 90_000);

afterAll(async () => {
  simulator?.kill("SIGINT");
  await simulator?.exited;
  await standalone?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("bun run simulate against bun run start: reports from every vendor, each command acked", async () => {
  const token = await testToken("admin");
  const api = jsonClient(`http://127.0.0.1:${ports.api}`, token);
  const app = await wsDashboard(`ws://127.0.0.1:${ports.ws}/ws`, { kinds: ["property.report", "event.report"] }, token);
  simulator = Bun.spawn(
    [
      "bun",
      resolve(import.meta.dir, "../../scripts/simulate.ts"),
      "--api",
      `http://127.0.0.1:${ports.api}`,
      "--mqtt",
      `mqtt://127.0.0.1:${ports.mqtt}`,
      "--token",
      token,
      "--rate",
      "2",
      "--history",
      "60",
    ],
    { stdout: "ignore", stderr: "inherit" },
  );
  const devices = ["sim-generic-0", "sim-generic-1", "sim-dock-0", "sim-dock-0-aircraft", "sim-tuya-0"];
  await eventually(
    () => devices.every((id) => app.messages().some((m: Json) => m.deviceId === id && m.kind === "property.report")),
    30_000,
    "reports from every device",
  );

  const sent = await Promise.all(devices.map(async (id) => (await api.post(`/api/v1/devices/${id}/commands`, { service: "locate" })).body.id as string));
  for (const id of sent) {
    await eventually(async () => (await api.get(`/api/v1/commands/${id}`)).body.status === "acked", 15_000, `command ${id} acked`);
  }
  expect((await api.get("/api/v1/devices/sim-generic-0")).body.online).toBe(true);

  // --history sent the past hour, one report every 30 s: standalone keeps it (PostgreSQL time series).
  const hour = await eventually(
    async () => {
      const res = await api.get("/api/v1/devices/sim-generic-0/telemetry?property=temperature&every=10m&fn=count");
      const total = (res.body.points ?? []).reduce((sum: number, p: Json) => sum + p.value, 0);
      return total >= 120 ? res.body : undefined;
    },
    30_000,
    "an hour of temperature history",
  );
  expect(hour.points.length).toBeGreaterThanOrEqual(6);
  expect(Date.parse(hour.points[0].ts)).toBeLessThan(Date.now() - 50 * 60_000);
  app.socket.close();
}, 90_000);
