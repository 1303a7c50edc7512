import { deviceRepository, openDatabase, type Sql } from "@umos/store";
import { eventually, type Json, type TestStack } from "@umos/testkit";
import { connectFleet, type DeviceFleet } from "../clients/devices";
import { created } from "../clients/rest";
import type { PhaseResult } from "../results";
import { startUsage, type WatchedProcess } from "../stats/process-usage";
import { type PlatformScenario, settled } from "./platform";

const DEVICES = 1000;
const GROUP = "bench-jobs";
const SERVICE = "locate";
/** How often the bench looks at the job's row: the times reported are the server's, this only ends the CPU reading. */
const POLL_MS = 100;
const JOB_TIMEOUT_MS = 300_000;
/** The services put side by side, by the name the platform's processes carry. */
const SIDE_BY_SIDE: Record<string, string> = {
  api: "iot-api",
  downlink: "iot-downlink",
  gateway: "iot-gateway",
  uplink: "iot-uplink",
  rabbitmq: "RabbitMQ",
  postgres: "PostgreSQL",
};

/** A rate the platform meets easily (100 commands a 10 s window, 50 out at once), then more than it can do. */
const PACED = { ratePerMinute: 600, maxInFlight: 50 };
const FLAT_OUT = { ratePerMinute: 60_000, maxInFlight: 200 };
const JOBS = [
  { phase: "job at 600/min", rollout: PACED },
  { phase: "job at 60,000/min", rollout: FLAT_OUT },
  { phase: "job at 60,000/min, 3 waves", rollout: { ...FLAT_OUT, waves: [{ devices: 10 }, { percent: 50 }, { percent: 100 }], waveGapMs: 0 } },
] as const;
const [PACED_PHASE, FLAT_OUT_PHASE, WAVES_PHASE] = JOBS.map((j) => j.phase) as [string, string, string];

/**
 * The firmware update after them, at the paced job's rate so the two stand side by side: one generic
 * package, downloaded by every device from iot-api by its signed link, installed in `installMs`.
 */
const FIRMWARE = { version: "2.0.0", bytes: 64 * 1024, installMs: 20 };
const FIRMWARE_PHASE = "firmware at 600/min";
const FIRMWARE_ROLLOUT = { ...PACED, timeoutMs: 120_000 };

/**
 * Jobs (docs/fleet.md) over 1,000 simulated generic devices connected to the stack's Mosquitto and
 * registered straight into the store, one service call each, three jobs in turn over the same
 * devices: at a rate the platform meets easily, at a rate above what it can do, and that again in
 * three waves. Before them, the processes' CPU with nothing to do, which the paced job pays for every
 * second it runs. Last, a firmware job (docs/fleet.md: Firmware updates) at the paced job's rate: a
 * 64 KiB generic package uploaded through the REST API, which every device downloads from iot-api,
 * checks and installs, coming back with version 2.0.0. Each job is timed from its creation to
 * `completed` by the server's clock; the scenario checks that every device succeeded, that each has
 * exactly one command of the job in PostgreSQL, that each device received exactly one call, and for
 * the firmware job that every device's `firmware_version` in PostgreSQL is the package's.
 */
export const jobs: PlatformScenario = {
  id: "jobs",
  async run({ stack, profile, processes }) {
    const ids = Array.from({ length: DEVICES }, (_, i) => `jobs-${i}`);
    const db = openDatabase({ url: stack.database.url, maxConnections: 8 });
    const cleanups: (() => Promise<unknown>)[] = [() => db.close()];
    try {
      await register(stack, db.sql, ids);
      const fleet = await connectFleet(stack.broker.url, ids, { installMs: FIRMWARE.installMs });
      cleanups.unshift(() => fleet.close());
      await fleet.answerCalls();
      const phases: Record<string, PhaseResult> = { idle: await idle(stack, db.sql, fleet, processes, profile.seconds) };
      for (const { phase, rollout } of JOBS) {
        phases[phase] = await runJob(stack, db.sql, fleet, processes, phase, CALL, rollout);
        console.error(`bench: jobs: ${phase}: ${JSON.stringify(phases[phase]!.figures)}`);
      }
      const pkg = await upload(stack, firmwareFile(FIRMWARE.bytes));
      // Its record and its file (testkit's firmware directory, shared by every test stack) go with the scenario.
      cleanups.unshift(() => stack.api.delete(`/api/v1/firmware/${pkg}`));
      phases[FIRMWARE_PHASE] = await runJob(stack, db.sql, fleet, processes, FIRMWARE_PHASE, { kind: "firmware", packages: [pkg] }, FIRMWARE_ROLLOUT, {
        "devices reporting firmware 2.0.0": async () => updated(db.sql, ids),
      });
      console.error(`bench: jobs: ${FIRMWARE_PHASE}: ${JSON.stringify(phases[FIRMWARE_PHASE]!.figures)}`);
      compare(phases);
      return { id: "jobs", title: `Jobs: one service call, then a firmware update, over ${DEVICES.toLocaleString("en-US")} devices`, phases };
    } finally {
      for (const cleanup of cleanups) await cleanup().catch((err) => console.error(`bench cleanup: ${String(err)}`));
    }
  },
};

const CALL = { kind: "service", service: SERVICE, params: {} };

/** A package file that is not all one byte, so a torn download fails its checksum. */
function firmwareFile(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 7)) & 0xff);
}

/** Uploads the generic package (docs/fleet.md: Firmware packages), the raw file as the body; its id. */
async function upload(stack: TestStack, bytes: Uint8Array): Promise<string> {
  const query = `vendor=generic&version=${FIRMWARE.version}&fileName=fw.bin`;
  const res = await fetch(`${stack.platform.apiUrl}/api/v1/firmware?${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  const body = (await res.json()) as Json;
  if (res.status !== 201 || body.size !== bytes.byteLength) throw new Error(`POST /api/v1/firmware: ${res.status} ${JSON.stringify(body)}`);
  return body.id as string;
}

/** Devices whose latest `firmware_version` in PostgreSQL is the package's. */
async function updated(sql: Sql, ids: readonly string[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from device_state
    where property = 'firmware_version' and value #>> '{}' = ${FIRMWARE.version} and device_id = any(${ids as string[]})`;
  return row!.n;
}

/** The devices straight into the store (not what is measured), and the group the jobs target through the REST API. */
async function register(stack: TestStack, sql: Sql, ids: readonly string[]): Promise<void> {
  const devices = deviceRepository(sql);
  await Promise.all(ids.map((id) => devices.create({ id, vendor: "generic" })));
  await created(stack.api, "/api/v1/groups", { id: GROUP, name: "Bench jobs" });
  const res = await stack.api.post(`/api/v1/groups/${GROUP}/members`, { deviceIds: ids });
  if (res.status !== 200 || res.body.added !== ids.length) throw new Error(`POST /groups/${GROUP}/members: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * Every device online (a job sends only to online devices) and the queues empty. The birth message
 * again before each job: it also keeps the uplink's silence sweep (presence.silenceMs) away.
 */
async function ready(stack: TestStack, sql: Sql, fleet: DeviceFleet): Promise<void> {
  await fleet.announceOnline();
  const online = async () => (await sql<{ n: number }[]>`select count(*)::int as n from devices where online and id = any(${fleet.ids})`)[0]!.n;
  await eventually(async () => (await online()) === DEVICES, 30_000, "the job devices online");
  await settled(stack.vhost.url);
}

/** `seconds` with the devices connected and nothing sent: each process's CPU a second. */
async function idle(stack: TestStack, sql: Sql, fleet: DeviceFleet, processes: () => WatchedProcess[], seconds: number): Promise<PhaseResult> {
  await ready(stack, sql, fleet);
  const usage = startUsage(processes());
  await Bun.sleep(seconds * 1000);
  const used = usage.stop(0);
  return {
    messages: 0,
    usage: used,
    figures: {
      seconds,
      ...Object.fromEntries(Object.entries(SIDE_BY_SIDE).map(([p, label]) => [`${label} CPU ms/s`, ((used[p]?.cpuSeconds ?? 0) * 1000) / seconds])),
    },
  };
}

/** One turn's commands as PostgreSQL holds them: made together (one `now()`), sent one after another. */
interface TurnRow {
  made: number;
  n: number;
  firstSent: number;
  lastSent: number;
  lastFinal: number;
}

async function runJob(
  stack: TestStack,
  sql: Sql,
  fleet: DeviceFleet,
  processes: () => WatchedProcess[],
  name: string,
  operation: Record<string, unknown>,
  rollout: Record<string, unknown>,
  /** Further checks after the job: counts that must each come to DEVICES. */
  expected: Record<string, () => Promise<number>> = {},
): Promise<PhaseResult> {
  await ready(stack, sql, fleet);
  const receivedBefore = fleet.received();
  const sentBefore = fleet.sent();
  const usage = startUsage(processes());
  const res = await stack.api.post("/api/v1/jobs", { name, target: { group: GROUP }, operation, rollout });
  if (res.status !== 201) throw new Error(`POST /api/v1/jobs: ${res.status} ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  await ended(stack, sql, id);
  const used = usage.stop(DEVICES);
  const job = (await stack.api.get(`/api/v1/jobs/${id}`)).body as Json;

  const received = fleet.received().map((n, i) => n - receivedBefore[i]!);
  const sent = fleet.sent().reduce((s, n, i) => s + n - sentBefore[i]!, 0);
  const [per] = await sql<{ once: number; more: number; devices: number; commands: number; acked: number }[]>`
    select count(*) filter (where n = 1)::int as once, count(*) filter (where n > 1)::int as more, count(*)::int as devices,
      coalesce(sum(n), 0)::int as commands, coalesce(sum(acked), 0)::int as acked
    from (select device_id, count(*) as n, count(*) filter (where status = 'acked') as acked from commands where job_id = ${id} group by device_id) d`;
  const counts: Record<string, number> = {
    ...job.counts,
    "commands of the job": per!.commands,
    "commands acked": per!.acked,
    "devices with one command": per!.once,
    "devices with more than one": per!.more,
    "devices with none": DEVICES - per!.devices,
    "devices that received one call": received.filter((n) => n === 1).length,
  };
  for (const [label, count] of Object.entries(expected)) counts[label] = await count();
  const complete =
    job.status === "completed" &&
    job.counts.succeeded === DEVICES &&
    per!.once === DEVICES &&
    per!.acked === DEVICES &&
    counts["devices that received one call"] === DEVICES &&
    Object.keys(expected).every((label) => counts[label] === DEVICES);
  if (!complete) throw new Error(`job '${name}' ${job.status} (${job.reason}): ${JSON.stringify(counts)}; ${DEVICES} of each expected`);

  const wallS = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000;
  const idealS = (DEVICES * 60) / (rollout.ratePerMinute as number);
  const turns = await sql<TurnRow[]>`
    select extract(epoch from created_at)::float8 * 1000 as made, count(*)::int as n,
      extract(epoch from min(sent_at))::float8 * 1000 as "firstSent", extract(epoch from max(sent_at))::float8 * 1000 as "lastSent",
      extract(epoch from max(updated_at))::float8 * 1000 as "lastFinal"
    from commands where job_id = ${id} group by created_at order by created_at`;
  return {
    throughput: DEVICES / wallS,
    messages: DEVICES,
    usage: used,
    counts,
    figures: {
      "wall s": wallS,
      "ideal s at the rate asked": idealS,
      "wall / ideal": wallS / idealS,
      "devices/s": DEVICES / wallS,
      "frames sent per device": sent / DEVICES,
      ...timeline(turns, Date.parse(job.createdAt), Date.parse(job.finishedAt)),
      ...Object.fromEntries(Object.entries(SIDE_BY_SIDE).map(([p, label]) => [`${label} CPU ms/device`, used[p]?.cpuSecondsPer1000 ?? 0])),
    },
  };
}

/** Waits for the job to leave scheduled/running by polling its row; cancels it and fails after JOB_TIMEOUT_MS. */
async function ended(stack: TestStack, sql: Sql, id: string): Promise<void> {
  const deadline = performance.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const [row] = await sql<{ status: string }[]>`select status from jobs where id = ${id}`;
    if (row && !["scheduled", "running", "paused"].includes(row.status)) return;
    if (performance.now() > deadline) {
      const job = (await stack.api.post(`/api/v1/jobs/${id}/cancel`, {})).body;
      throw new Error(`job ${id} not finished within ${JOB_TIMEOUT_MS} ms: ${JSON.stringify(job.counts)}`);
    }
    await Bun.sleep(POLL_MS);
  }
}

/**
 * How the job's turns went, from its commands: a turn's commands share their `created_at` (the
 * turn's transaction) and are sent one after another (`sent_at`, each send's transaction).
 */
function timeline(turns: readonly TurnRow[], createdAt: number, finishedAt: number): Record<string, number> {
  const sum = (f: (t: TurnRow) => number) => turns.reduce((s, t) => s + f(t), 0);
  const gaps = turns.slice(1).map((t, i) => t.made - turns[i]!.made);
  const sends = sum((t) => t.n - 1);
  return {
    "turns that sent": turns.length,
    "commands per turn, max": Math.max(...turns.map((t) => t.n)),
    "s between turns that sent, mean": gaps.length > 0 ? gaps.reduce((a, b) => a + b, 0) / gaps.length / 1000 : 0,
    "ms per command sent, in a turn": sends > 0 ? sum((t) => t.lastSent - t.firstSent) / sends : 0,
    // The turn's own queries (from its transaction's start to the first send's), and the sends after them.
    "s from a turn to its first send, mean": sum((t) => t.firstSent - t.made) / turns.length / 1000,
    "s from a turn to its last send, max": Math.max(...turns.map((t) => t.lastSent - t.made)) / 1000,
    "s from creation to the first command": (turns[0]!.made - createdAt) / 1000,
    "s from the last answer to completed": (finishedAt - Math.max(...turns.map((t) => t.lastFinal))) / 1000,
  };
}

/**
 * The flat-out job beside the paced one (rate and CPU per device), the waves' cost beside the flat-out
 * job, and the firmware update beside the paced call at the same rate (wall time and CPU per device).
 */
function compare(phases: Record<string, PhaseResult>): void {
  const paced = phases[PACED_PHASE]!;
  const flatOut = phases[FLAT_OUT_PHASE]!;
  const waves = phases[WAVES_PHASE]!;
  const firmware = phases[FIRMWARE_PHASE]!;
  const idle = phases.idle!;
  /** CPU ms per device beyond what the process spends idle over the job's wall time (its timers, sweeps, heartbeats). */
  const netOfIdle = (phase: PhaseResult, p: string) => {
    const idleCpuS = ((idle.usage[p]?.cpuSeconds ?? 0) / idle.figures!.seconds!) * phase.figures!["wall s"]!;
    return (((phase.usage[p]?.cpuSeconds ?? 0) - idleCpuS) * 1000) / DEVICES;
  };
  for (const phase of [paced, flatOut, waves, firmware])
    for (const [p, label] of Object.entries(SIDE_BY_SIDE)) phase.figures![`${label} CPU ms/device net of idle`] = netOfIdle(phase, p);
  flatOut.figures!["devices/s, x paced job"] = flatOut.throughput! / paced.throughput!;
  for (const [p, label] of Object.entries(SIDE_BY_SIDE)) {
    const raw = (phase: PhaseResult) => phase.usage[p]?.cpuSecondsPer1000 ?? 0;
    if (raw(paced) > 0) flatOut.figures![`${label} CPU/device, x paced job`] = raw(flatOut) / raw(paced);
    // Net of idle, a small process's share is within /proc's 10 ms ticks and the idle reading's noise: no ratio of that.
    const net = netOfIdle(paced, p);
    if (net > 0.1) flatOut.figures![`${label} CPU/device net of idle, x paced job`] = netOfIdle(flatOut, p) / net;
  }
  waves.figures!["wall, x one wave"] = waves.figures!["wall s"]! / flatOut.figures!["wall s"]!;

  const megabytes = (DEVICES * FIRMWARE.bytes) / 1e6;
  firmware.figures!["MB downloaded from iot-api"] = megabytes;
  firmware.figures!["MB/s downloaded"] = megabytes / firmware.figures!["wall s"]!;
  firmware.figures!["wall, x paced call"] = firmware.figures!["wall s"]! / paced.figures!["wall s"]!;
  const all = (phase: PhaseResult) => Object.values(phase.usage).reduce((s, u) => s + u.cpuSecondsPer1000, 0);
  firmware.figures!["all processes CPU/device, x paced call"] = all(firmware) / all(paced);
  for (const [p, label] of Object.entries(SIDE_BY_SIDE)) {
    const raw = (phase: PhaseResult) => phase.usage[p]?.cpuSecondsPer1000 ?? 0;
    if (raw(paced) > 0) firmware.figures![`${label} CPU/device, x paced call`] = raw(firmware) / raw(paced);
  }
}
