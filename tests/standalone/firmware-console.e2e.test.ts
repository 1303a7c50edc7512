import { expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { behaviours, startFleet } from "@umos/simulator";
import { jsonClient, testToken } from "@umos/testkit";
import { standaloneConsole } from "./console-fixture";

/**
 * Firmware in the console of a fresh `bun run start` with two simulated generic devices, which take
 * updates (download the signed link, check the sha256, report progress and the new firmware_version):
 * an admin uploads a package (a second of the same version refused), an operator rolls it out from the
 * job form and watches it complete live, and the admin deletes it. The job runner turns every 200 ms.
 */
const DEVICES = ["fw-generic-0", "fw-generic-1"];
const fixture = standaloneConsole("firmware", (options) => startFleet(behaviours({ generic: 2, dji: 0, tuya: 0 }, "fw-"), options), {
  UMOS_DOWNLINK__JOB_INTERVAL_MS: "200",
});

/** 64 KiB of random bytes: not a real image, which the simulated devices do not need. */
const PACKAGE = Buffer.from(crypto.getRandomValues(new Uint8Array(64 * 1024)));
const SHA256 = new Bun.CryptoHasher("sha256").update(PACKAGE).digest("hex");

const cells = (row: ReturnType<Page["locator"]>) => row.locator("td").allTextContents();

async function upload(page: Page, version: string) {
  await page.setInputFiles("#firmware-file", { name: "generic-fw.bin", mimeType: "application/octet-stream", buffer: PACKAGE });
  await page.selectOption("#firmware-vendor", "generic");
  await page.fill("#firmware-version", version);
  await page.fill("#firmware-notes", "console test build");
  await page.click("#firmware-upload-run");
}

test("an admin uploads a package and sees it with its sha256; the same version again shows the API's 409", async () => {
  const { page, failures } = await fixture.signedIn("admin", "#/firmware");
  await page.locator('#firmware-count:text("0")').waitFor({ timeout: 15_000 });
  await page.click("#firmware-upload summary");

  await upload(page, "2.0.0");
  const row = page.locator("#firmware tbody tr");
  await row.waitFor({ timeout: 10_000 });
  expect(await page.locator("#firmware-error").textContent()).toBe("");
  expect(await page.locator("#firmware-result").textContent()).toBe(`Uploaded generic 2.0.0: sha256 ${SHA256}`);
  const shown = await cells(row);
  // vendor, model, version, file, size, sha256, notes, created, delete
  expect(shown.slice(0, 7)).toEqual(["generic", "any", "2.0.0", "generic-fw.bin", "64 KiB", `${SHA256.slice(0, 12)}…`, "console test build"]);
  expect(await row.locator("td:nth-child(6)").getAttribute("title")).toBe(SHA256);
  expect(await page.locator("#firmware-count").textContent()).toBe("1");

  // "A second package with the same vendor, model and version is 409" (docs/fleet.md: Firmware packages).
  await upload(page, "2.0.0");
  await page.locator('#firmware-error:text("already has")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#firmware-error").textContent()).toBe("The API refused the package: generic already has a package of version '2.0.0'");
  expect(await row.count()).toBe(1);
  expect(failures).toEqual([]);
}, 60_000);

test("an operator rolls the package out from the job form, watches it complete live, and the devices report the new version", async () => {
  const api = jsonClient(fixture.apiUrl, await testToken("admin"));
  const [pkg] = (await api.get("/api/v1/firmware")).body.items;
  const { page, failures } = await fixture.signedIn("operator", "#/jobs");
  await page.locator("#live.on").waitFor({ timeout: 15_000 });
  await page.locator('#job-count:text("0")').waitFor({ timeout: 10_000 });

  await page.click("#job-create summary");
  await page.fill("#job-name", "firmware 2.0.0");
  await page.fill("#job-target", "vendor = generic");
  await page.selectOption("#job-operation-kind", "firmware");
  expect(await page.locator("#job-service-field").isHidden()).toBe(true);
  // Without a package ticked the form says so itself.
  await page.locator(`#job-packages input[value="${pkg.id}"]`).waitFor({ timeout: 10_000 });
  await page.click("#job-save");
  expect(await page.locator("#job-form-error").textContent()).toBe("tick the firmware packages to install");
  await page.check(`#job-packages input[value="${pkg.id}"]`);
  await page.click("#job-save");

  const row = page.locator("#jobs tbody tr");
  await row.waitFor({ timeout: 10_000 });
  expect(await page.locator("#job-form-error").textContent()).toBe("");
  // No reload: job.progress events carry it to the end.
  await row.locator('.job-status:text("completed")').waitFor({ timeout: 30_000 });
  expect((await cells(row)).slice(0, 4)).toEqual(["firmware 2.0.0", "completed", "1/1", "2 succeeded"]);

  await row.locator("a").click();
  await page.locator('#job-title:text("firmware 2.0.0")').waitFor({ timeout: 10_000 });
  const executions = page.locator("#executions tbody tr");
  await executions.first().waitFor({ timeout: 10_000 });
  expect(await page.locator('#job-figures dd[data-figure="operation"]').textContent()).toBe(`firmware ${pkg.id}`);
  expect(await executions.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")))).toEqual(DEVICES);
  for (const shown of await executions.evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)))) {
    // device, wave, status, progress, attempts, reason, command
    expect(shown.slice(2, 5)).toEqual(["succeeded", "100 %", "1"]);
  }

  // "Only when the device reports the package's version as its firmware_version" (docs/fleet.md: Firmware updates).
  for (const id of DEVICES) expect((await api.get(`/api/v1/devices/${id}`)).body.state.firmware_version.value).toBe("2.0.0");

  // An operator sees the packages but neither the upload form nor a delete button.
  await page.click('#nav a[href="#/firmware"]');
  await page.locator('#firmware-count:text("1")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#firmware-upload").isHidden()).toBe(true);
  expect(await page.locator("#firmware button").count()).toBe(0);
  expect(failures).toEqual([]);
}, 60_000);

test("an admin deletes a package once the deletion is confirmed", async () => {
  const { page, failures } = await fixture.signedIn("admin", "#/firmware");
  const remove = page.locator('#firmware tbody tr button[data-action="delete"]');
  await remove.waitFor({ timeout: 15_000 });

  page.once("dialog", (dialog) => void dialog.dismiss());
  await remove.click();
  expect(await page.locator("#firmware tbody tr").count()).toBe(1);

  page.once("dialog", (dialog) => void dialog.accept());
  await remove.click();
  await page.locator('#firmware-count:text("0")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#firmware-result").textContent()).toBe("Deleted generic 2.0.0 (generic-fw.bin).");
  expect((await jsonClient(fixture.apiUrl, await testToken("admin")).get("/api/v1/firmware")).body.items).toEqual([]);
  expect(failures).toEqual([]);
}, 30_000);
