import { expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { behaviours, startFleet } from "@umos/simulator";
import { jsonClient, testToken } from "@umos/testkit";
import { standaloneConsole } from "./console-fixture";

/**
 * Alarms in the console of a fresh `bun run start`: a rule made through the API, a simulated
 * thermostat that breaks it, and the alarm arriving live in the alarms page and the header's badge,
 * then acknowledged, assigned and cleared from the console by an operator.
 */
const DEVICE = "alarm-generic-0";
const ARTIFACTS = resolve(import.meta.dir, "../artifacts");

const fixture = standaloneConsole("alarms", (options) => startFleet(behaviours({ generic: 1, dji: 0, tuya: 0 }, "alarm-"), options));

test("an alarm a device raises shows live in the console's list and badge, and an operator acknowledges, assigns and clears it there", async () => {
  const api = jsonClient(fixture.apiUrl, await testToken("admin"));
  const { page, failures } = await fixture.signedIn("operator", "#/alarms");
  const badge = page.locator("#alarm-badge");
  await page.locator("#live.on").waitFor({ timeout: 15_000 });
  await page.locator('#alarm-badge:text("0 alarms")').waitFor({ timeout: 15_000 });

  const created = await api.post("/api/v1/rules", {
    id: "too-warm",
    name: "Too warm",
    devices: [DEVICE],
    definition: { levels: [{ severity: "major", when: { property: "temperature", op: "gt", value: 40 } }] },
  });
  expect(created.status).toBe(201);

  // The thermostat reports 45 °C every second until the alarm shows: iot-rules reads a device's rules
  // again within rules.ruleCacheMs (5 s), and the device announced itself before the rule existed.
  const device = fixture.devices[0]!;
  let sent = 0;
  const hot = setInterval(
    () => device.publish(`generic/${DEVICE}/property/report`, JSON.stringify({ id: `hot-${++sent}`, ts: Date.now(), data: { temperature: 45 } })),
    1000,
  );
  const row = page.locator("#alarms tbody tr").first();
  try {
    // The page was open before the alarm existed: it arrives over the WebSocket, not by reloading.
    await row.waitFor({ timeout: 20_000 });
  } finally {
    clearInterval(hot);
  }
  expect(await row.locator(".sev").textContent()).toBe("major");
  expect(await row.locator(`a[href="#/devices/${DEVICE}"]`).textContent()).toBe(DEVICE);
  expect(await row.locator(".handling").textContent()).toBe("not acknowledged");
  // Sooner than the badge's 30 s fallback: the alarm event made it read the summary again.
  await page.locator('#alarm-badge.major:text("1 alarm")').waitFor({ timeout: 5_000 });
  const alarmId = await row.getAttribute("data-alarm");

  await row.locator('button[data-action="acknowledge"]').click();
  await page.locator('#alarms .handling:text("acknowledged by test-operator")').waitFor({ timeout: 10_000 });
  expect(await row.locator('button[data-action="acknowledge"]').count()).toBe(0);

  await row.locator('button[data-action="assign"]').click();
  await page.fill("#assignee", "alice");
  await page.click("#assign-save");
  await page.locator('#alarms .handling:text("acknowledged by test-operator · assigned to alice")').waitFor({ timeout: 10_000 });
  const stored = await api.get(`/api/v1/alarms/${alarmId}`);
  expect(stored.body).toMatchObject({ acknowledged: true, acknowledgedBy: "test-operator", assignee: "alice", status: "active", severity: "major" });
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "standalone-alarms.png"), fullPage: true });

  // The device's page lists it too, and the rules page counts it.
  await page.click(`#alarms a[href="#/devices/${DEVICE}"]`);
  await page.locator(`#device-alarms tr[data-alarm="${alarmId}"] .sev.major`).waitFor({ timeout: 10_000 });
  await page.click('nav a[href="#/rules"]');
  const rule = page.locator('#rules tr[data-rule="too-warm"]');
  await rule.waitFor({ timeout: 10_000 });
  expect(await rule.locator("td").allTextContents()).toEqual(["too-warm", "Too warm", "1", "enabled", `devices ${DEVICE}`, "1", expect.any(String), "1", ""]);

  await page.click('nav a[href="#/alarms"]');
  await row.locator('button[data-action="clear"]').click();
  // Cleared, it leaves the active list; the badge drops to none.
  await page.locator(`#alarms tr[data-alarm="${alarmId}"]`).waitFor({ state: "detached", timeout: 10_000 });
  await page.locator('#alarm-badge.none:text("0 alarms")').waitFor({ timeout: 5_000 });
  await page.check('input[name="alarm-status"][value="cleared"]');
  await page.locator(`#alarms tr.cleared[data-alarm="${alarmId}"] .handling:text("cleared by test-operator")`).waitFor({ timeout: 10_000 });
  expect((await api.get(`/api/v1/alarms/${alarmId}`)).body).toMatchObject({ status: "cleared", clearedBy: "test-operator" });
  expect(await badge.getAttribute("title")).toBe("no active alarms");
  expect(failures).toEqual([]);
}, 90_000);
