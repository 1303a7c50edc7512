import { beforeAll, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { behaviours, fleetClock, reportHistory, startFleet } from "@umos/simulator";
import { standaloneConsole } from "./console-fixture";

/**
 * The README's first minute in a browser: a fresh `bun run start`, a simulated thermostat that sends
 * its past hour first (`bun run simulate -- --history 60`), and the console's chart showing that
 * hour from the embedded PostgreSQL's time series.
 */
const clock = fleetClock();
const fixture = standaloneConsole("console", (options) => startFleet(behaviours({ generic: 1, dji: 0, tuya: 0 }, "hour-", clock.now), options));

beforeAll(() => reportHistory(fixture.devices, clock, 60, 30_000), 60_000);

test("a fresh standalone's console charts the hour of history the simulator sent, from its own time series", async () => {
  const { page, failures } = await fixture.signedIn("viewer");
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
