import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "./database";
import { scratchDatabase } from "./scratch-database";
import { deviceRepository } from "./devices";
import { type PrepareCommand, type JobRepository, jobRepository, type NewJob, placeInWaves, type Rollout } from "./jobs";

let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
let db: Database;
let jobs: JobRepository;

/** Every device takes the job's service call as it is. */
const allowed: PrepareCommand = async (_device, operation) =>
  operation.kind === "service" ? { kind: "service.call", service: operation.service, params: operation.params } : { refused: "a service call only" };
const ROLLOUT: Rollout = {
  ratePerMinute: 6000,
  maxInFlight: 100,
  waves: [],
  waveGapMs: 0,
  abort: null,
  timeoutMs: 30_000,
  retries: 0,
  retryDelayMs: 0,
  offlineRetryMs: 60_000,
};

beforeAll(async () => {
  scratch = await scratchDatabase("jobs", 6);
  db = scratch.db;
  jobs = jobRepository(db.sql);
  const devices = deviceRepository(db.sql);
  for (let i = 0; i < 20; i++) await devices.create({ id: `d-${String(i).padStart(2, "0")}`, vendor: "generic", tags: i < 10 ? ["even"] : [] });
  await db.sql`update devices set online = true`;
});

afterAll(async () => {
  await scratch?.dispose();
});

const newJob = (job: Partial<Omit<NewJob, "rollout">> & { rollout?: Partial<Rollout> }): NewJob => ({
  id: Bun.randomUUIDv7(),
  name: "reboot",
  target: { query: 'tag = "even"' },
  followNew: false,
  operation: { kind: "service", service: "reboot", params: {} },
  startAt: new Date(Date.now() - 1000),
  deadlineAt: new Date(Date.now() + 3_600_000),
  createdBy: "test",
  ...job,
  rollout: { ...ROLLOUT, ...job.rollout },
});

/** Settles every open command of a job as the device would answer: `outcome` per device id. */
async function answer(jobId: string, outcome: (deviceId: string) => "acked" | "failed" | "timeout") {
  const open = await db.sql<{ id: string; deviceId: string }[]>`
    select id, device_id as "deviceId" from commands where job_id = ${jobId} and status = 'queued'`;
  for (const c of open) await db.sql`update commands set status = ${outcome(c.deviceId)}, reason = 'device said so' where id = ${c.id}`;
  await jobs.settle();
  return open.length;
}

test("waves take their number or share of the devices, and the last the rest", () => {
  expect(placeInWaves(10, [{ devices: 2 }, { percent: 30 }, { percent: 100 }])).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 2, 2]);
  expect(placeInWaves(3, [])).toEqual([0, 0, 0]);
  expect(placeInWaves(2, [{ devices: 5 }, { percent: 50 }])).toEqual([0, 0]);
});

describe("a job's rollout", () => {
  test("runs its canary wave first, the next after it is done, and completes when every device succeeded", async () => {
    const job = await jobs.create(newJob({ rollout: { waves: [{ devices: 2 }, { percent: 100 }] } }));
    expect(job).toMatchObject({ status: "scheduled", waves: 2 });
    expect((await jobs.startDue()).map((j) => j.id)).toContain(job.id);
    const first = await jobs.turn(job.id, allowed);
    expect(first!.commands).toHaveLength(2);
    expect(first!.commands.every((c) => c.kind === "service.call" && c.service === "reboot")).toBe(true);
    expect((await jobs.turn(job.id, allowed))!.commands).toHaveLength(0);
    await answer(job.id, () => "acked");
    const second = await jobs.turn(job.id, allowed);
    expect(second!.job.wave).toBe(1);
    expect(second!.commands).toHaveLength(8);
    await answer(job.id, () => "acked");
    const done = await jobs.turn(job.id, allowed);
    expect(done!.job).toMatchObject({ status: "completed", counts: { succeeded: 10, pending: 0, in_progress: 0 } });
  });

  test("aborts once failures pass the threshold after the minimum, cancelling what was not sent", async () => {
    const job = await jobs.create(newJob({ rollout: { waves: [{ devices: 4 }, { percent: 100 }], abort: { failurePercent: 25, minFinished: 4 } } }));
    await jobs.startDue();
    await jobs.turn(job.id, allowed);
    let n = 0;
    await answer(job.id, () => (n++ < 2 ? "failed" : "acked"));
    const aborted = await jobs.turn(job.id, allowed);
    expect(aborted!.job).toMatchObject({
      status: "aborted",
      reason: "2 of 4 finished executions failed (50% > 25%)",
      counts: { succeeded: 2, failed: 2, cancelled: 6 },
    });
    const cancelled = await jobs.executions(job.id, { limit: 1, status: "cancelled" });
    expect(cancelled.items[0]!.reason).toBe("the job was aborted: 2 of 4 finished executions failed (50% > 25%)");
  });

  test("retries a failed attempt with a new command, never the same attempt twice, and keeps the reason of the last", async () => {
    const job = await jobs.create(newJob({ target: { devices: ["d-01"] }, rollout: { retries: 1 } }));
    await jobs.startDue();
    expect((await jobs.turn(job.id, allowed))!.commands).toHaveLength(1);
    await answer(job.id, () => "timeout");
    expect((await jobs.get(job.id)).counts).toMatchObject({ pending: 1 });
    const retry = await jobs.turn(job.id, allowed);
    expect(retry!.commands).toHaveLength(1);
    await answer(job.id, () => "failed");
    const done = await jobs.turn(job.id, allowed);
    expect(done!.job).toMatchObject({ status: "completed", counts: { failed: 1 } });
    const [execution] = (await jobs.executions(job.id, { limit: 5 })).items;
    expect(execution).toMatchObject({ attempts: 2, status: "failed", reason: "attempt 2: device said so" });
    const keys = await db.sql<{ key: string }[]>`select idempotency_key as key from commands where job_id = ${job.id} order by key`;
    expect(keys.map((k) => k.key)).toEqual([`job:${job.id}:1`, `job:${job.id}:2`]);
  });

  test("a device offline at its turn waits and is caught up when it comes back; a refused one fails with the reason", async () => {
    await db.sql`update devices set online = false where id = 'd-02'`;
    const job = await jobs.create(newJob({ target: { devices: ["d-02", "d-03", "d-04"] }, rollout: { offlineRetryMs: 100 } }));
    await jobs.startDue();
    const refuse: PrepareCommand = async (device, operation, sql) =>
      device.id === "d-04" ? { refused: "service 'reboot' is not in its thing model" } : allowed(device, operation, sql);
    expect((await jobs.turn(job.id, refuse))!.commands.map((c) => c.deviceId)).toEqual(["d-03"]);
    expect((await jobs.executions(job.id, { limit: 5 })).items.map((e) => [e.deviceId, e.status, e.reason])).toEqual([
      ["d-02", "pending", "offline at its turn; tried again until the job's deadline"],
      ["d-03", "in_progress", null],
      ["d-04", "failed", "service 'reboot' is not in its thing model"],
    ]);
    await db.sql`update devices set online = true where id = 'd-02'`;
    await Bun.sleep(150);
    expect((await jobs.turn(job.id, refuse))!.commands.map((c) => c.deviceId)).toEqual(["d-02"]);
  });

  test("two runners taking turns at once send each device once", async () => {
    const job = await jobs.create(newJob({ target: { query: "vendor = generic" } }));
    await jobs.startDue();
    const other = jobRepository(db.sql);
    const turns = await Promise.all([jobs.turn(job.id, allowed), other.turn(job.id, allowed), jobs.turn(job.id, allowed)]);
    const sent = turns.flatMap((t) => t?.commands ?? []).map((c) => c.deviceId);
    expect(sent).toHaveLength(20);
    expect(new Set(sent).size).toBe(20);
  });

  test("paces by the rate and the in-flight limit", async () => {
    const job = await jobs.create(newJob({ target: { query: "vendor = generic" }, rollout: { ratePerMinute: 30, maxInFlight: 100 } }));
    await jobs.startDue();
    expect((await jobs.turn(job.id, allowed))!.commands).toHaveLength(5);
    expect((await jobs.turn(job.id, allowed))!.commands).toHaveLength(0);
    const limited = await jobs.create(newJob({ target: { query: "vendor = generic" }, rollout: { maxInFlight: 3 } }));
    await jobs.startDue();
    expect((await jobs.turn(limited.id, allowed))!.commands).toHaveLength(3);
    await answer(limited.id, () => "acked");
    expect((await jobs.turn(limited.id, allowed))!.commands).toHaveLength(3);
  });

  test("past its deadline a job fails what it did not send, and is cancelled and paused only from the right states", async () => {
    const job = await jobs.create(newJob({ target: { devices: ["d-05"] }, deadlineAt: new Date(Date.now() + 300) }));
    await jobs.pause(job.id);
    await expect(jobs.pause(job.id)).rejects.toThrow("only a scheduled or running job can be paused");
    await jobs.resume(job.id);
    await jobs.startDue();
    await Bun.sleep(350);
    const over = await jobs.turn(job.id, allowed);
    expect(over!.job).toMatchObject({ status: "completed", reason: "its deadline passed", counts: { failed: 1 } });
    await expect(jobs.cancel(job.id, "admin")).rejects.toThrow("is completed");
    const later = await jobs.create(newJob({ startAt: new Date(Date.now() + 60_000) }));
    expect(await jobs.cancel(later.id, "admin")).toMatchObject({ status: "cancelled", reason: "cancelled by admin" });
  });
});

describe("a firmware job", () => {
  /** The update command of a test package: its version is what each device must report. */
  const update: PrepareCommand = async () => ({ kind: "service.call", service: "ota", params: { url: "http://x/fw" }, expectVersion: "2.0.0" });
  const progressEvent = (deviceId: string, commandId: string, data: Record<string, unknown>) =>
    db.sql`insert into message_log (id, device_id, dedupe_key, vendor, kind, ts, received_at, data, correlation_id)
      values (${Bun.randomUUIDv7()}, ${deviceId}, ${Bun.randomUUIDv7()}, 'generic', 'event.report', now(), now(),
        ${db.sql.json({ event: "ota.progress", data } as never)}, ${commandId})`;

  test("is done for a device only when it reports the new version, follows its progress, and fails or times out with the reason", async () => {
    const devices = ["d-10", "d-11", "d-12", "d-13"];
    await db.sql`insert into device_state (device_id, property, value, reported_at)
      select unnest(${devices}::text[]), 'firmware_version', '"1.0.0"'::jsonb, now()`;
    const job = await jobs.create(
      newJob({ target: { devices }, operation: { kind: "firmware", packages: [Bun.randomUUIDv7()] }, rollout: { timeoutMs: 800 } }),
    );
    await jobs.startDue();
    const sent = (await jobs.turn(job.id, update))!.commands;
    const commandOf = (id: string) => sent.find((c) => c.deviceId === id)!.id;
    expect(sent.map((c) => c.timeoutMs)).toEqual([800, 800, 800, 800]);
    // Every device accepted the command: that alone finishes nothing.
    await db.sql`update commands set status = 'acked' where job_id = ${job.id}`;
    await db.sql`update device_state set value = '"2.0.0"'::jsonb where device_id = 'd-10'`;
    await progressEvent("d-11", commandOf("d-11"), { state: "failed", percent: 30, message: "the checksum does not match" });
    await progressEvent("d-12", commandOf("d-12"), { state: "downloading", percent: 40 });
    await jobs.settle();
    const states = async () =>
      Object.fromEntries((await jobs.executions(job.id, { limit: 10 })).items.map((e) => [e.deviceId, [e.status, e.progress, e.reason]]));
    expect(await states()).toEqual({
      "d-10": ["succeeded", 100, null],
      "d-11": ["failed", 30, "attempt 1: the checksum does not match"],
      "d-12": ["in_progress", 40, null],
      "d-13": ["in_progress", null, null],
    });
    await Bun.sleep(900);
    await jobs.settle();
    expect((await states())["d-13"]).toEqual(["timed_out", null, "attempt 1: no version 2.0.0 reported in time; it reports 1.0.0"]);
  });
});

describe("a recurring job", () => {
  test("starts a run of its own at each time its cron names, and moves on to the next", async () => {
    const start = new Date();
    const recurring = await jobs.create(
      newJob({ target: { devices: ["d-06"] }, cron: "*/1 * * * * *", startAt: start, deadlineAt: new Date(start.getTime() + 60_000) }),
    );
    expect(recurring).toMatchObject({ status: "scheduled", cron: "*/1 * * * * *", parentId: null });
    expect(recurring.startAt.getTime()).toBeGreaterThan(start.getTime() - 1000);
    expect(recurring.deadlineAt.getTime() - recurring.startAt.getTime()).toBe(60_000);
    await Bun.sleep(1100);
    const first = (await jobs.startDue()).filter((j) => j.parentId === recurring.id);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ status: "running", cron: null, counts: { pending: 1 } });
    expect(first[0]!.name).toStartWith("reboot 20");
    // Nothing more until its next time.
    expect((await jobs.startDue()).filter((j) => j.parentId === recurring.id)).toEqual([]);
    const moved = await jobs.get(recurring.id);
    expect(moved.startAt.getTime()).toBeGreaterThan(first[0]!.startAt.getTime());
    expect(moved).toMatchObject({ status: "scheduled", counts: { pending: 0 } });
    await Bun.sleep(1100);
    expect((await jobs.startDue()).filter((j) => j.parentId === recurring.id)).toHaveLength(1);
    await jobs.cancel(recurring.id, "test");
    await Bun.sleep(1100);
    expect((await jobs.startDue()).filter((j) => j.parentId === recurring.id)).toEqual([]);
  });
});
