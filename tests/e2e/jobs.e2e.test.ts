import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { genericDevice, startFleet, type SimulatedDevice } from "@umos/simulator";
import { eventually, startStack, type Json, type TestStack } from "@umos/testkit";

/**
 * Jobs through all six services as processes and 200 simulated devices on a Mosquitto of the
 * test's own: a canary wave that must finish before the next starts, an abort once failures pass
 * the threshold, devices offline at their turn caught up before the deadline, and iot-downlink
 * killed mid-job and restarted without any device getting the job twice or being forgotten.
 */
const DEVICES = 200;
/** Every eighth device refuses every call: 12.5 % of the fleet. */
const failing = (i: number) => i % 8 === 3;
const idOf = (i: number) => `job-dev-${String(i).padStart(3, "0")}`;

let stack: TestStack;
let sql: postgres.Sql;
let devices: SimulatedDevice[] = [];

beforeAll(async () => {
  stack = await startStack({ UMOS_DOWNLINK__JOB_INTERVAL_MS: "200" });
  sql = postgres(stack.database.url, { max: 2, onnotice: () => {} });
  const fleet = Array.from({ length: DEVICES }, (_, i) => genericDevice(idOf(i), Date.now, { failing: failing(i) }));
  devices = await startFleet(fleet, { brokerUrl: stack.broker.url, answerDelayMs: 20, register: { apiUrl: stack.platform.apiUrl, token: stack.token } });
  expect((await stack.api.post("/api/v1/groups", { id: "site-a" })).status).toBe(201);
  expect((await stack.api.post("/api/v1/groups", { id: "broken" })).status).toBe(201);
  const all = Array.from({ length: DEVICES }, (_, i) => idOf(i));
  expect((await stack.api.post("/api/v1/groups/site-a/members", { deviceIds: all })).body).toEqual({ added: DEVICES });
  expect((await stack.api.post("/api/v1/groups/broken/members", { deviceIds: all.filter((_, i) => failing(i)) })).status).toBe(200);
  await eventually(async () => (await stack.api.get("/api/v1/devices?q=online&count=true&limit=1")).body.total === DEVICES, 20_000, "every device online");
}, 120_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await sql?.end();
  await stack?.dispose();
});

const job = async (id: string): Promise<Json> => (await stack.api.get(`/api/v1/jobs/${id}`)).body;
const finished = (id: string, statuses: string[], ms: number) =>
  eventually(
    async () => {
      const j = await job(id);
      return statuses.includes(j.status) && j.counts.in_progress === 0 ? j : undefined;
    },
    ms,
    `job ${id} ${statuses.join(" or ")} with nothing in flight`,
  );

test("a job over a group rolls out its canary wave first and aborts by itself once failures pass the threshold", async () => {
  const created = await stack.api.post("/api/v1/jobs", {
    name: "reboot site A",
    target: { group: "site-a" },
    operation: { kind: "service", service: "reboot", params: { delayS: 1 } },
    rollout: {
      ratePerMinute: 6000,
      maxInFlight: 25,
      waves: [{ devices: 10 }, { percent: 40 }, { percent: 100 }],
      waveGapMs: 500,
      abort: { failurePercent: 8, minFinished: 30 },
      timeoutMs: 10_000,
    },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const done = await finished(id, ["aborted"], 60_000);
  expect(done.reason).toMatch(/^\d+ of \d+ finished executions failed \(\d+% > 8%\)$/);
  expect(done.counts.cancelled).toBeGreaterThan(0);
  expect(done.counts.failed).toBeGreaterThan(0);
  expect(done.counts.pending).toBe(0);
  // The canary wave was done before any command of the next wave was made.
  const [gap] = await sql<{ canaryDone: Date; nextStarted: Date | null; canary: number }[]>`
    select max(c.updated_at) filter (where e.wave = 0) as "canaryDone", min(c.created_at) filter (where e.wave > 0) as "nextStarted",
      count(*) filter (where e.wave = 0)::int as canary
    from job_executions e join commands c on c.id = e.command_id where e.job_id = ${id}`;
  expect(gap!.canary).toBe(10);
  expect(gap!.nextStarted!.getTime()).toBeGreaterThanOrEqual(gap!.canaryDone.getTime() + 400);
  // Every execution that ran is a command of the usual lifecycle, linked to the job, with the device's answer.
  const failed = (await stack.api.get(`/api/v1/jobs/${id}/executions?status=failed&limit=1`)).body.items[0];
  expect(failed.reason).toBe("attempt 1: the device answered code 1");
  const command = (await stack.api.get(`/api/v1/commands/${failed.commandId}`)).body;
  expect(command).toMatchObject({ deviceId: failed.deviceId, status: "failed", service: "reboot" });
  // Its progress events (no device) reached every consumer of the event stage without a dead letter.
  expect((await stack.api.get("/api/v1/dead-letters")).body.items).toEqual([]);
}, 90_000);

test("offline devices are caught up before the deadline, and a restart of iot-downlink mid-job sends no device the job twice", async () => {
  const healthy = devices.filter((_, i) => !failing(i));
  const offline = healthy.slice(0, 12);
  await Promise.all(offline.map((d) => d.drop()));
  await eventually(
    async () => (await stack.api.get("/api/v1/devices?q=not%20online&count=true&limit=1")).body.total === offline.length,
    15_000,
    "the dropped devices offline",
  );
  const received = new Map(devices.map((d) => [d.behaviour.id, d.counters.received]));
  const created = await stack.api.post("/api/v1/jobs", {
    name: "set the healthy ones to eco",
    target: { query: 'group = "site-a" and not group = "broken"' },
    operation: { kind: "service", service: "locate", params: {} },
    rollout: { ratePerMinute: 600, maxInFlight: 10, offlineRetryMs: 1000, timeoutMs: 10_000 },
    deadlineAt: new Date(Date.now() + 120_000).toISOString(),
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  await eventually(async () => (await job(id)).counts.succeeded >= 40, 30_000, "40 devices done");
  await stack.platform.kill("downlink");
  await Bun.sleep(500);
  await stack.platform.restart("downlink");
  await Promise.all(offline.map((d) => d.restore()));
  const done = await finished(id, ["completed"], 90_000);
  expect(done.counts).toEqual({ pending: 0, in_progress: 0, succeeded: healthy.length, failed: 0, timed_out: 0, cancelled: 0 });
  const attempts = await sql<{ deviceId: string; commands: number }[]>`
    select device_id as "deviceId", count(*)::int as commands from commands where job_id = ${id} group by device_id`;
  expect(attempts).toHaveLength(healthy.length);
  expect(attempts.every((a) => a.commands === 1)).toBe(true);
  // What each device received during the job: the one call, never twice.
  for (const d of healthy) expect(d.counters.received - received.get(d.behaviour.id)!).toBe(1);
}, 150_000);

test("a job is refused when its target or operation cannot work, and is paused, resumed and cancelled by an operator", async () => {
  const refuse = async (body: Json) => (await stack.api.post("/api/v1/jobs", { name: "x", operation: { kind: "service", service: "s" }, ...body })).body.error;
  expect(await refuse({ target: { group: "nowhere" } })).toMatchObject({ code: "invalid_query", message: "there is no device group 'nowhere'" });
  expect(await refuse({ target: { devices: ["ghost-1"] } })).toMatchObject({ code: "unknown_device" });
  expect(await refuse({ target: { query: 'tag = "none"' } })).toMatchObject({ code: "no_devices" });
  expect(await refuse({ target: { devices: [idOf(0)] }, followNew: true })).toMatchObject({ code: "invalid_job" });
  expect(await refuse({ target: { devices: [idOf(0)] }, cron: "61 * * * *" })).toMatchObject({
    code: "invalid_job",
    message: "cron: '61 * * * *' is not a cron expression: Constraint error, got value 61 expected range 0-59",
  });
  const later = await stack.api.post("/api/v1/jobs", {
    name: "tonight",
    target: { group: "site-a" },
    operation: { kind: "service", service: "reboot" },
    startAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  expect(later.body).toMatchObject({ status: "scheduled", counts: { pending: 0 } });
  expect((await stack.api.post(`/api/v1/jobs/${later.body.id}/pause`, {})).body).toMatchObject({ status: "paused" });
  expect((await stack.api.post(`/api/v1/jobs/${later.body.id}/resume`, {})).body).toMatchObject({ status: "scheduled" });
  expect((await stack.api.post(`/api/v1/jobs/${later.body.id}/cancel`, {})).body).toMatchObject({ status: "cancelled" });
  expect((await stack.api.post(`/api/v1/jobs/${later.body.id}/resume`, {})).status).toBe(409);
  expect((await stack.api.get("/api/v1/jobs?status=cancelled")).body.items.map((j: Json) => j.id)).toEqual([later.body.id]);
}, 30_000);
