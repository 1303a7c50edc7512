import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Request } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../browser";
import { behaviours, runFleet, startFleet, type SimulatedDevice } from "@umos/simulator";
import {
  createInfluxDatabase,
  eventually,
  startPlatform,
  startStack,
  testToken,
  type RunningPlatform,
  type TestInfluxDatabase,
  type TestStack,
} from "@umos/testkit";

/**
 * The web console in Debian's Chromium, headless, against all five services and simulated devices:
 * sign in with a token, see a device's values change live, send a command and watch it reach
 * `acked`. The five run without a time series (GET …/telemetry/series answers 501), so the chart falls
 * back to the message log; a second iot-api, reading InfluxDB 1.6, serves the console whose range
 * picker asks GET …/telemetry/series. The screenshots are kept in tests/artifacts/.
 */
const ARTIFACTS = resolve(import.meta.dir, "../artifacts");

let stack: TestStack;
let devices: SimulatedDevice[] = [];
let run: ReturnType<typeof runFleet> | undefined;
let browser: TestBrowser | undefined;
let influx: TestInfluxDatabase | undefined;
let reader: RunningPlatform | undefined;

beforeAll(async () => {
  stack = await startStack();
  devices = await startFleet(behaviours({ generic: 2, dji: 1, tuya: 1 }, "demo-"), {
    brokerUrl: stack.broker.url,
    answerDelayMs: 200,
    register: { apiUrl: stack.platform.apiUrl, token: stack.token },
  });
  run = runFleet(devices, { rate: 2, eventEverySec: 3, offlineEverySec: 0, offlineForSec: 0 });
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await reader?.stop();
  await influx?.dispose();
  run?.stop();
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await stack?.dispose();
});

test("sign in, watch a device's values change live, send a command and see it acked", async () => {
  const page = await browser!.context.newPage();
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  // The page's Content-Security-Policy must not stand in its own way (Chromium reports what it blocks).
  page.on("console", (message) => void (message.text().includes("Content Security Policy") && failures.push(message.text())));
  const seriesAnswers: number[] = [];
  page.on("response", (res) => void (res.url().includes("/telemetry/series?") && seriesAnswers.push(res.status())));
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
  expect(await page.locator("#chart-source").textContent()).toStartWith("No time series configured: recent property reports from the message log");
  expect(seriesAnswers.length).toBeGreaterThan(0);
  expect(seriesAnswers.every((status) => status === 501)).toBe(true);
  // The range picker is there, labelled, and off: without a time series it has nothing to change.
  for (const name of ["1 h", "6 h", "24 h", "7 d", "30 d", "custom"]) expect(await page.getByRole("radio", { name, exact: true }).isDisabled()).toBe(true);
  expect(await page.getByRole("radio", { name: "1 h", exact: true }).isChecked()).toBe(true);
  expect(await page.getByLabel("from", { exact: true }).getAttribute("type")).toBe("datetime-local");
  expect(await page.getByLabel("to", { exact: true }).getAttribute("type")).toBe("datetime-local");
  expect(await page.getByLabel("aggregate", { exact: true }).inputValue()).toBe("mean");
  expect(await page.locator('#chart figure:has-text("temperature") canvas').getAttribute("aria-label")).toMatch(/^temperature: \d+ values/);

  await page.screenshot({ path: join(ARTIFACTS, "console.png"), fullPage: true });
  expect(failures).toEqual([]);
}, 60_000);

test("with a time series, the range picker asks GET …/telemetry/series for the range and aggregate chosen, and says why one is refused", async () => {
  const device = "demo-generic-0";
  const now = Date.now();
  influx = await createInfluxDatabase();
  // A temperature every 25 min over the last 5 h, laid out as the uplink writes it (shared/timeseries/src/schema.ts): 2 in the last hour.
  const written = Array.from({ length: 12 }, (_, i) => ({ ts: now - 5 * 3_600_000 + i * 25 * 60_000, value: 20 + i / 2 }));
  await influx.write(written.map((p) => `device_property,device=${device},vendor=generic,property=temperature value=${p.value} ${p.ts}`));
  reader = await startPlatform(
    { busUrl: stack.vhost.url, postgresUrl: stack.database.url },
    { UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database, UMOS_API__CONSOLE_WS_URL: stack.platform.wsUrl },
    ["api"],
  );

  const page = await browser!.context.newPage();
  const failures: string[] = [];
  page.on("pageerror", (err) => failures.push(err.message));
  page.on("console", (message) => void (message.text().includes("Content Security Policy") && failures.push(message.text())));
  const series = (request: Request) => new URL(request.url()).pathname === `/api/v1/devices/${device}/telemetry/series`;
  /** A series request's range in hours, its aggregate and properties. */
  const asked = (request: Request) => {
    const query = new URL(request.url()).searchParams;
    return { hours: (Date.parse(query.get("to")!) - Date.parse(query.get("from")!)) / 3_600_000, fn: query.get("fn"), properties: query.getAll("property") };
  };
  const temperature = async (request: Request) => {
    const answer = (await (await request.response())!.json()) as { series: { property: string; points: unknown[] }[] };
    return answer.series.find((s) => s.property === "temperature")!.points.length;
  };

  const first = page.waitForRequest(series);
  await page.goto(`${reader.apiUrl}/#/devices/${device}`);
  await page.fill("#token", await testToken("viewer"));
  await page.click("#sign-in");
  const hour = await first;
  expect(asked(hour)).toMatchObject({ hours: 1, fn: "mean" });
  expect(asked(hour).properties).toContain("temperature");
  expect(await temperature(hour)).toBe(2);
  await page.locator("#chart-source", { hasText: "mean per 30s" }).waitFor({ timeout: 10_000 });

  // Keyboard only: from "1 h" the arrow key moves to "6 h", which asks again.
  const sixHours = page.waitForRequest((r) => series(r) && Math.abs(asked(r).hours - 6) < 0.01);
  await page.getByRole("radio", { name: "1 h", exact: true }).focus();
  await page.keyboard.press("ArrowRight");
  const six = await sixHours;
  expect(asked(six).fn).toBe("mean");
  expect(await temperature(six)).toBe(written.length);
  expect(await page.getByRole("radio", { name: "6 h", exact: true }).isChecked()).toBe(true);
  await page.locator("#chart-source", { hasText: "mean per 5m" }).waitFor({ timeout: 10_000 });
  expect(await page.locator("#chart-source").textContent()).toContain("then live values");
  const label = await page.locator('#chart figure:has-text("temperature") canvas').getAttribute("aria-label");
  expect(Number(/^temperature: (\d+) values/.exec(label ?? "")?.[1])).toBeGreaterThanOrEqual(written.length);

  const max = page.waitForRequest((r) => series(r) && asked(r).fn === "max");
  await page.getByLabel("aggregate", { exact: true }).selectOption("max");
  expect(asked(await max).hours).toBeCloseTo(6, 2);
  await page.locator("#chart-source", { hasText: "max per 5m" }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(ARTIFACTS, "console-chart.png"), fullPage: true });

  // A custom start long before the API's longest range (timeseries.maxQueryRangeDays, 366 days): its 400 is shown.
  await page.getByLabel("from", { exact: true }).fill("2000-01-01T00:00");
  await page.locator("#chart-error", { hasText: "The API refused this range" }).waitFor({ timeout: 10_000 });
  expect(await page.locator("#chart-error").textContent()).toContain("at most 366 days");
  expect(await page.getByRole("radio", { name: "custom", exact: true }).isChecked()).toBe(true);
  expect(await page.locator("#chart-source").textContent()).toBe("");
  expect(failures).toEqual([]);
  await page.close();
}, 60_000);

test("the API docs render under their Content-Security-Policy, with no inline script", async () => {
  const page = await browser!.context.newPage();
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
  expect(config).toEqual({ wsUrl: stack.platform.wsUrl });
  expect((await fetch(`${stack.platform.apiUrl}/openapi`)).status).toBe(200);
  expect((await fetch(`${stack.platform.apiUrl}/openapi/json`)).status).toBe(200);
});
