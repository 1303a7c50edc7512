import { expect, test } from "bun:test";
import { mkdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Page } from "playwright-core";
import { jsonClient, testToken } from "@umos/testkit";
import { standaloneConsole } from "./console-fixture";

/**
 * Fleet management in the console of a fresh `bun run start`, by an admin: devices imported from a
 * CSV file (checked first, a bad row refused with its line), found again by device queries typed
 * into the device list, and gathered in a dynamic group whose page lists them.
 */
const fixture = standaloneConsole("fleet");

const HEADER = "id,vendor,name,tags,groups";
const GOOD_ROWS = ["roof-cam-1,generic,Roof camera 1,roof;camera,", "roof-cam-2,generic,Roof camera 2,roof;camera,", "yard-plug-1,tuya,Yard plug,yard,"];
const csvFile = (lines: string[]) => ({ name: "devices.csv", mimeType: "text/csv", buffer: Buffer.from(`${[HEADER, ...lines].join("\n")}\n`) });

const shownIds = (page: Page) => page.locator("#devices tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-device")));

test("an admin imports devices from a CSV file, finds them by device queries and gathers them in a dynamic group", async () => {
  const api = jsonClient(fixture.apiUrl, await testToken("admin"));
  const { page, failures } = await fixture.signedIn("admin");
  await page.locator("#live.on").waitFor({ timeout: 15_000 });

  // The dry run names the bad row by its line in the file (the header is line 1) and imports nothing.
  await page.click("#import-panel summary");
  await page.setInputFiles("#import-file", csvFile([...GOOD_ROWS, "bad id!,generic,Broken,,"]));
  await page.click("#import-check");
  const problem = page.locator("#import-errors tbody tr");
  await problem.waitFor({ timeout: 10_000 });
  expect(await problem.locator("td").allTextContents()).toEqual(["5", "bad id!", expect.stringContaining("id")]);
  expect(await page.locator("#import-error").textContent()).toBe("1 of 4 rows cannot be imported:");
  expect((await api.get("/api/v1/devices?count=true")).body.total).toBe(0);

  // The fixed file passes the check, goes in, and its credentials come as a download, once.
  await page.setInputFiles("#import-file", csvFile(GOOD_ROWS));
  await page.click("#import-check");
  await page.locator('#import-result:text("3 rows valid.")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#import-errors").isHidden()).toBe(true);
  const download = page.waitForEvent("download", { timeout: 15_000 });
  await page.click("#import-run");
  const credentials = (await readFile(await (await download).path(), "utf8")).trimEnd().split("\r\n");
  expect(credentials[0]).toBe("username,password");
  expect(credentials.slice(1).map((line) => line.split(",")[0])).toEqual(["roof-cam-1", "roof-cam-2", "yard-plug-1"]);
  expect(await page.locator("#import-result").textContent()).toContain("shown only this once");
  expect(await page.locator("#import-credentials").isVisible()).toBe(true);
  // The list reads itself again after the import.
  await page.locator('#device-count:text("3 devices · 0 online")').waitFor({ timeout: 10_000 });

  // A query typed in the box: exactly the devices it matches, counted, with their tags; the address keeps it.
  await page.fill("#device-query", 'tag = "roof"');
  await page.press("#device-query", "Enter");
  await page.locator('#device-count:text("2 matching · 0 online")').waitFor({ timeout: 10_000 });
  expect(await shownIds(page)).toEqual(["roof-cam-1", "roof-cam-2"]);
  expect(await page.locator('#devices tr[data-device="roof-cam-1"] .tag').allTextContents()).toEqual(["roof", "camera"]);
  await page.reload();
  await page.locator('#device-count:text("2 matching · 0 online")').waitFor({ timeout: 10_000 });
  expect(await page.inputValue("#device-query")).toBe('tag = "roof"');
  expect(await shownIds(page)).toEqual(["roof-cam-1", "roof-cam-2"]);

  // A query the API refuses: its reason and column beside the box, no list passed off as its answer.
  await page.fill("#device-query", "vendor = nosuch");
  await page.click("#device-search-go");
  await page.locator('#device-error:text("at column 10")').waitFor({ timeout: 10_000 });
  expect(await page.locator("#device-error").textContent()).toBe(
    "The API refused the query: at column 10: 'nosuch' is not a vendor; one of dji, tuya, generic",
  );
  expect(await shownIds(page)).toEqual([]);
  expect(await page.locator("#device-count").textContent()).toBe("");

  // A dynamic group from the groups page (a refused query first), opened to its members.
  await page.click('nav a[href="#/groups"]');
  await page.click("#group-create summary");
  await page.fill("#group-id", "roof");
  await page.fill("#group-name", "Roof devices");
  await page.fill("#group-query", "tag = roof");
  await page.click("#group-save");
  await page.locator('#group-form-error:text("at column 7")').waitFor({ timeout: 10_000 });
  await page.fill("#group-query", 'tag = "roof" and vendor = generic');
  await page.click("#group-save");
  const group = page.locator('#groups tr[data-group="roof"]');
  await group.waitFor({ timeout: 10_000 });
  expect(await group.locator("td").allTextContents()).toEqual(["roof", "Roof devices", "dynamic", 'tag = "roof" and vendor = generic', ""]);
  expect(await page.locator("#group-form-error").textContent()).toBe("");
  await group.locator("a").click();
  await page.locator('#device-count:text("2 matching · 0 online")').waitFor({ timeout: 10_000 });
  expect(await page.inputValue("#device-query")).toBe('group = "roof"');
  expect(await shownIds(page)).toEqual(["roof-cam-1", "roof-cam-2"]);
  await mkdir(resolve(import.meta.dir, "../artifacts"), { recursive: true });
  await page.screenshot({ path: resolve(import.meta.dir, "../artifacts/standalone-fleet.png"), fullPage: true });
  expect(failures).toEqual([]);
}, 90_000);

test("a long list comes a page at a time, the next one on asking", async () => {
  const rows = Array.from({ length: 201 }, (_, i) => `bulk-${String(i).padStart(3, "0")},generic,,bulk,`);
  const imported = await fetch(`${fixture.apiUrl}/api/v1/devices/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${await testToken("admin")}`, "content-type": "text/csv" },
    body: [HEADER, ...rows].join("\n"),
  });
  expect(imported.status).toBe(201);
  // The query from the address, as a link or a reload gives it.
  const { page, failures } = await fixture.signedIn("viewer", `#/?q=${encodeURIComponent('tag = "bulk"')}`);
  await page.locator('#device-count:text("201 matching · 0 of the first 200 online")').waitFor({ timeout: 15_000 });
  expect((await shownIds(page)).length).toBe(200);
  await page.click("#device-more");
  await page.locator('#device-count:text("201 matching · 0 online")').waitFor({ timeout: 10_000 });
  expect((await shownIds(page)).at(-1)).toBe("bulk-200");
  expect(await page.locator("#device-more").isHidden()).toBe(true);
  expect(failures).toEqual([]);
}, 30_000);

test("a viewer's console offers neither the import nor the group form", async () => {
  const { page, failures } = await fixture.signedIn("viewer", "#/groups");
  await page.locator("#group-count:not(:empty)").waitFor({ timeout: 15_000 });
  expect(await page.locator("#group-create").isHidden()).toBe(true);
  await page.click('nav a[href="#/"]');
  await page.locator("#device-count:not(:empty)").waitFor({ timeout: 10_000 });
  expect(await page.locator("#import-panel").isHidden()).toBe(true);
  expect(failures).toEqual([]);
}, 30_000);
