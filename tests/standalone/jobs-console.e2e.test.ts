import { expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Page } from "playwright-core";
import { behaviours, startFleet } from "@umos/simulator";
import { jsonClient, testToken } from "@umos/testkit";
import { standaloneConsole } from "./console-fixture";

/**
 * Jobs in the console of a fresh `bun run start` with three simulated generic devices: an operator
 * starts one from the form (a refused query first) and watches it complete live, then pauses and
 * cancels a scheduled one from its page. The job runner turns every 200 ms instead of 1 s.
 */
const DEVICES = ["job-generic-0", "job-generic-1", "job-generic-2"];
const fixture = standaloneConsole("jobs", (options) => startFleet(behaviours({ generic: 3, dji: 0, tuya: 0 }, "job-"), options), {
  UMOS_DOWNLINK__JOB_INTERVAL_MS: "200",
});

const figure = (page: Page, name: string) => page.locator(`#job-figures dd[data-figure="${name}"]`);
const actions = (page: Page) => page.locator("#job-actions button").evaluateAll((buttons) => buttons.map((b) => b.getAttribute("data-action")));

test("an operator starts a job from the form and watches it complete live, then finds each device's execution", async () => {
  const { page, failures } = await fixture.signedIn("operator", "#/jobs");
  await page.locator("#live.on").waitFor({ timeout: 15_000 });
  await page.locator('#job-count:text("0")').waitFor({ timeout: 10_000 });

  // A query the API refuses: its 400 message under the form, and no job.
  await page.click("#job-create summary");
  await page.fill("#job-name", "locate every generic device");
  await page.fill("#job-target", "vendor = nosuch");
  await page.fill("#job-service", "locate");
  await page.fill("#job-canary", "1");
  await page.click("#job-save");
  await page.locator('#job-form-error:text("nosuch")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#job-form-error").textContent()).toStartWith("The API refused the job: ");
  expect(await page.locator("#jobs tbody tr").count()).toBe(0);

  // The same job over a query that matches the three: a canary of one, then the rest.
  await page.fill("#job-target", "vendor = generic");
  await page.click("#job-save");
  const row = page.locator("#jobs tbody tr");
  await row.waitFor({ timeout: 10_000 });
  expect(await page.locator("#job-form-error").textContent()).toBe("");
  // No reload: job.progress events carry it to the end.
  await row.locator('.job-status:text("completed")').waitFor({ timeout: 20_000 });
  expect(await row.locator("td").allTextContents()).toEqual([
    "locate every generic device",
    "completed",
    "2/2",
    "3 succeeded",
    "",
    expect.stringContaining("ago"),
  ]);
  await mkdir(resolve(import.meta.dir, "../artifacts"), { recursive: true });
  await page.screenshot({ path: resolve(import.meta.dir, "../artifacts/standalone-jobs.png"), fullPage: true });

  await row.locator("a").click();
  const executions = page.locator("#executions tbody tr");
  await page.locator('#job-title:text("locate every generic device")').waitFor({ timeout: 10_000 });
  await executions.first().waitFor({ timeout: 10_000 });
  expect(await figure(page, "target").textContent()).toBe("query vendor = generic");
  expect(await figure(page, "operation").textContent()).toBe("service locate {}");
  expect(await executions.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")))).toEqual(DEVICES);
  for (const cells of await executions.evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)))) {
    // device, wave, status, progress (firmware updates only), attempts, reason, command
    expect(cells.slice(2, 5)).toEqual(["succeeded", "", "1"]);
    expect(cells[6]).toMatch(/^[0-9a-f-]{36}$/);
  }
  // One device in the canary wave, the other two in the second.
  expect((await executions.locator("td:nth-child(2)").allTextContents()).sort()).toEqual(["1", "2", "2"]);
  expect(await actions(page)).toEqual([]);
  await executions.first().locator("a").click();
  await page.locator('#device-title:text("job-generic-0")').waitFor({ timeout: 10_000 });
  expect(failures).toEqual([]);
}, 60_000);

test("an operator pauses and cancels a scheduled job from its page, and sees another's change to it live", async () => {
  const api = jsonClient(fixture.apiUrl, await testToken("admin"));
  const created = await api.post("/api/v1/jobs", {
    name: "reboot tonight",
    target: { devices: DEVICES },
    operation: { kind: "service", service: "reboot" },
    startAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  expect(created.status).toBe(201);
  const id: string = created.body.id;

  const { page, failures } = await fixture.signedIn("operator", `#/jobs/${id}`);
  const status = figure(page, "status");
  await page.locator('#job-figures .job-status:text("scheduled")').waitFor({ timeout: 15_000 });
  expect(await figure(page, "wave").textContent()).toBe("0/1");
  expect(await actions(page)).toEqual(["pause", "cancel"]);

  await page.click('#job-actions button[data-action="pause"]');
  await page.locator('#job-figures .job-status:text("paused")').waitFor({ timeout: 10_000 });
  expect(await actions(page)).toEqual(["resume", "cancel"]);

  // Resumed by someone else: iot-api announces it (job.progress), and the page shows it without a reload.
  expect((await api.post(`/api/v1/jobs/${id}/resume`, {})).status).toBe(200);
  await page.locator('#job-figures .job-status:text("scheduled")').waitFor({ timeout: 10_000 });
  expect(await actions(page)).toEqual(["pause", "cancel"]);

  await page.click('#job-actions button[data-action="cancel"]');
  await page.locator('#job-figures .job-status:text("cancelled")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#job-action-error").textContent()).toBe("");
  expect(await figure(page, "reason").textContent()).toStartWith("cancelled by ");
  expect(await actions(page)).toEqual([]);
  expect((await api.get(`/api/v1/jobs/${id}`)).body.status).toBe("cancelled");
  expect(await status.textContent()).toBe("cancelled");

  // Back in the list, read afresh: both jobs, newest first.
  await page.click('#job-view a[href="#/jobs"]');
  await page.locator('#jobs tbody tr:first-child .job-status:text("cancelled")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#jobs tbody tr td:first-child").allTextContents()).toEqual(["reboot tonight", "locate every generic device"]);
  expect(failures).toEqual([]);
}, 60_000);

test("a viewer sees the jobs but neither the form nor the actions", async () => {
  const { page, failures } = await fixture.signedIn("viewer", "#/jobs");
  await page.locator("#jobs tbody tr").first().waitFor({ timeout: 15_000 });
  expect(await page.locator("#job-create").isHidden()).toBe(true);
  await page.locator("#jobs tbody tr a").first().click();
  await page.locator('#job-figures .job-status:text("cancelled")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#job-actions").isHidden()).toBe(true);
  expect(failures).toEqual([]);
}, 30_000);
