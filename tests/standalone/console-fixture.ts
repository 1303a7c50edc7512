import { afterAll, beforeAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Role } from "@umos/auth";
import type { FleetOptions, SimulatedDevice } from "@umos/simulator";
import { testToken } from "@umos/testkit";
import { launchBrowser, type TestBrowser } from "../browser";
import { freeStandalonePorts, startStandalone, type StandalonePorts, type StandaloneProcess } from "./standalone-process";

/**
 * The console tests' setting, for one test file: a fresh `bun run start` on free ports with a data
 * directory of its own, the simulated devices `fleet` starts against it (registered through its API),
 * and headless Chromium. Started before the file's tests, all of it stopped and removed after them.
 * `env` sets its configuration (UMOS_* variables), as a user's environment would.
 */
export function standaloneConsole(name: string, fleet?: (options: FleetOptions) => Promise<SimulatedDevice[]>, env: Record<string, string> = {}) {
  let dataDir: string | undefined;
  let ports: StandalonePorts | undefined;
  let standalone: StandaloneProcess | undefined;
  let devices: SimulatedDevice[] = [];
  let browser: TestBrowser | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `umos-standalone-${name}-`));
    ports = await freeStandalonePorts();
    standalone = await startStandalone(dataDir, ports, env);
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    devices = (await fleet?.({ brokerUrl: `mqtt://127.0.0.1:${ports.mqtt}`, answerDelayMs: 0, register: { apiUrl, token: await testToken("admin") } })) ?? [];
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(devices.map((d) => d.close().catch(() => {})));
    await standalone?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  return {
    get apiUrl() {
      return `http://127.0.0.1:${ports!.api}`;
    },
    get devices() {
      return devices;
    },
    /**
     * A new page of the console at `hash`, signed in with a token of `role`. `failures` collects the
     * page's uncaught errors and what its Content-Security-Policy blocked (Chromium logs each).
     */
    async signedIn(role: Role, hash = "#/") {
      const page = await browser!.context.newPage();
      const failures: string[] = [];
      page.on("pageerror", (err) => failures.push(err.message));
      page.on("console", (message) => void (message.text().includes("Content Security Policy") && failures.push(message.text())));
      await page.goto(`http://127.0.0.1:${ports!.api}/${hash}`);
      await page.fill("#token", await testToken(role));
      await page.click("#sign-in");
      return { page, failures };
    },
  };
}
