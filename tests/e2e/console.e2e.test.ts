import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { behaviours, runFleet, startFleet, type SimulatedDevice } from "@umos/simulator";
import { eventually, startStack, testToken, type TestStack } from "@umos/testkit";

/**
 * The web console in Debian's Chromium, headless, against all five services and simulated devices:
 * sign in with a token, see a device's values change live, send a command and watch it reach
 * `acked`. The screenshot is kept in tests/artifacts/console.png.
 */
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dir, "../artifacts");

let stack: TestStack;
let devices: SimulatedDevice[] = [];
let run: ReturnType<typeof runFleet> | undefined;
let browser: BrowserContext | undefined;
let profile: string | undefined;

beforeAll(async () => {
  stack = await startStack();
  devices = await startFleet(behaviours({ generic: 2, dji: 1, tuya: 1 }, "demo-"), {
    brokerUrl: stack.broker.url,
    answerDelayMs: 200,
    register: { apiUrl: stack.platform.apiUrl, token: stack.token },
  });
  run = runFleet(devices, { rate: 2, eventEverySec: 3, offlineEverySec: 0, offlineForSec: 0 });
  profile = await mkdtemp(join(tmpdir(), "umos-chromium-"));
  // A fresh profile, and nothing that reaches out to the network or updates itself.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  run?.stop();
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await stack?.dispose();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test("sign in, watch a device's values change live, send a command and see it acked", async () => {
  const page = await browser!.newPage();
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  // The page's Content-Security-Policy must not stand in its own way (Chromium reports what it blocks).
  page.on("console", (message) => void (message.text().includes("Content Security Policy") && failures.push(message.text())));
  await page.goto(`${stack.platform.apiUrl}/`);

  await page.fill("#token", await testToken("admin"));
  await page.click("#sign-in");
  const row = page.locator('#devices tr[data-device="demo-generic-0"]');
  await row.waitFor({ timeout: 10_000 });
  await page.locator('#devices tr[data-device="demo-generic-0"] .dot.online').waitFor({ timeout: 10_000 });
  await page.locator('#devices tr[data-device="demo-dock-0-aircraft"]').waitFor({ timeout: 10_000 });
  await page.locator("#live.on").waitFor({ timeout: 10_000 });
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "devices.png") });

  await row.click();
  const temperature = page.locator('#properties tr[data-prop="temperature"] td.value');
  await temperature.waitFor({ timeout: 10_000 });
  const first = await temperature.textContent();
  // The time cell beside it moves with every live report, even when the value happens to repeat.
  const stamp = page.locator('#properties tr[data-prop="temperature"] td.hint');
  const firstStamp = await stamp.textContent();
  await eventually(
    async () => (await temperature.textContent()) !== first || (await stamp.textContent()) !== firstStamp,
    10_000,
    "a live report of the temperature",
  );
  await page.locator("#events li").first().waitFor({ timeout: 10_000 });

  await page.fill("#command-service", "boost");
  await page.fill("#command-params", '{"minutes": 30}');
  await page.click("#send-command");
  await page
    .locator("#commands .status.acked")
    .first()
    .waitFor({ timeout: 15_000 })
    .catch(async (err) => {
      await page.screenshot({ path: join(ARTIFACTS, "console-failed.png"), fullPage: true });
      const { body } = await stack.api.get("/api/v1/devices/demo-generic-0/commands");
      throw new Error(`${String(err)}\ncommands as the API has them: ${JSON.stringify(body)}`);
    });
  expect(await page.locator("#commands tbody tr").first().locator("td").nth(2).textContent()).toContain("acked");
  expect(await page.locator("#chart-source").textContent()).toContain("message log");

  await page.screenshot({ path: join(ARTIFACTS, "console.png"), fullPage: true });
  expect(failures).toEqual([]);
}, 60_000);

test("the API docs render under their Content-Security-Policy, with no inline script", async () => {
  const page = await browser!.newPage();
  const blocked: string[] = [];
  page.on("console", (message) => void (message.text().includes("Content Security Policy") && blocked.push(message.text())));
  await page.goto(`${stack.platform.apiUrl}/openapi`);
  await page.locator(".swagger-ui .info .title").waitFor({ timeout: 10_000 });
  expect(await page.locator(".swagger-ui .info .title").textContent()).toContain("UMOS API");
  await page.locator(".opblock-tag").first().waitFor({ timeout: 10_000 });
  expect(blocked).toEqual([]);
  await page.close();
}, 30_000);

test("the console is a static bundle: the page revalidates, its hashed assets are cached for good, the API docs still answer", async () => {
  const res = await fetch(`${stack.platform.apiUrl}/`);
  expect(res.headers.get("content-type")).toStartWith("text/html");
  expect(res.headers.get("cache-control")).toBe("no-cache");
  const html = await res.text();
  const assets = [...html.matchAll(/(?:src|href)="\.?(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  expect(assets.length).toBe(2);
  for (const path of assets) {
    const asset = await fetch(`${stack.platform.apiUrl}${path}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/^text\/(javascript|css)/);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    // No CDN: nothing the page loads comes from elsewhere.
    expect(await asset.text()).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[a-z0-9.-]+\.[a-z]{2,}\//i);
  }
  expect(html).not.toContain("http");
  const config = await (await fetch(`${stack.platform.apiUrl}/console/config`)).json();
  expect(config).toEqual({ wsUrl: stack.platform.wsUrl, telemetry: false });
  expect((await fetch(`${stack.platform.apiUrl}/openapi`)).status).toBe(200);
  expect((await fetch(`${stack.platform.apiUrl}/openapi/json`)).status).toBe(200);
});
