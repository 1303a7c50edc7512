import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launchBrowser, type TestBrowser } from "../browser";
import { behaviours, fleetClock, reportHistory, startFleet, type SimulatedDevice } from "@umos/simulator";
import { testToken } from "@umos/testkit";
import { freeStandalonePorts, startStandalone, type StandalonePorts, type StandaloneProcess } from "./standalone-process";

/**
 * The README's first minute in a browser: a fresh `bun run start`, a simulated thermostat that sends
 * its past hour first (`bun run simulate -- --history 60`), and the console's chart showing that
 * hour from the embedded PostgreSQL's time series.
 */
let dataDir: string;
let ports: StandalonePorts;
let standalone: StandaloneProcess | undefined;
let devices: SimulatedDevice[] = [];
let browser: TestBrowser | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "umos-standalone-console-"));
  ports = await freeStandalonePorts();
  standalone = await startStandalone(dataDir, ports);
  const clock = fleetClock();
  devices = await startFleet(behaviours({ generic: 1, dji: 0, tuya: 0 }, "hour-", clock.now), {
    brokerUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    answerDelayMs: 0,
    register: { apiUrl: `http://127.0.0.1:${ports.api}`, token: await testToken("admin") },
  });
  await reportHistory(devices, clock, 60, 30_000);
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await standalone?.stop();
  await rm(dataDir, { recursive: true, force: true });
}, 30_000);

test("a fresh standalone's console charts the hour of history the simulator sent, from its own time series", async () => {
  const page = await browser!.context.newPage();
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  await page.goto(`http://127.0.0.1:${ports.api}/`);
  await page.fill("#token", await testToken("viewer"));
  await page.click("#sign-in");
  await page.locator('#devices tr[data-device="hour-generic-0"]').click({ timeout: 15_000 });
  const caption = page.locator("#chart-source");
  await page.getByText("Time series (GET …/telemetry/series)").waitFor({ timeout: 15_000 });
  expect(await caption.textContent()).toContain("mean per 30s");
  // 120 reports over the hour, a window of 30 s each: the chart holds the hour, not only live values.
  const label = await page.locator('#chart figure:has-text("temperature") canvas').getAttribute("aria-label");
  const values = Number(/^temperature: (\d+) values/.exec(label ?? "")?.[1]);
  expect(values).toBeGreaterThanOrEqual(100);
  await mkdir(resolve(import.meta.dir, "../artifacts"), { recursive: true });
  await page.screenshot({ path: resolve(import.meta.dir, "../artifacts/standalone-console.png"), fullPage: true });
  expect(failures).toEqual([]);
}, 60_000);
