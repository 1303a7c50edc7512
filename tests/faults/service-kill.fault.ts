import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, type ServiceName } from "@umos/testkit";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// Each service in turn is killed (SIGKILL: no drain, no goodbye) mid-stream and started again.
let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(() => rig?.dispose(), 30_000);

const kills: { service: ServiceName; wsLive: boolean }[] = [
  { service: "gateway", wsLive: true },
  { service: "uplink", wsLive: true },
  { service: "downlink", wsLive: true },
  // iot-ws's queue is its own and goes with it: a dashboard reconnects and reads the gap from the log.
  { service: "ws", wsLive: false },
  // Off the report's and the command's way: its queue keeps the events while it is down.
  { service: "rules", wsLive: true },
];

/** A rule every report of the case's devices meets: one alarm per device, and one occurrence per report. */
async function alwaysHolding(ruleId: string, devices: string[]): Promise<void> {
  const definition = { levels: [{ severity: "warning", when: { property: "n", op: "gte", value: 0 } }] };
  const created = await rig.ends.api.post("/api/v1/rules", { id: ruleId, name: ruleId, devices, definition });
  expect(created.status).toBe(201);
}

/**
 * iot-rules took every report exactly once, whichever service died: each device has one alarm of
 * the rule, its occurrences equal to the reports in the message log (none lost, none counted twice).
 */
async function expectEvaluatedOnce(ruleId: string, name: string): Promise<void> {
  const counts = () => rig.ends.sql<{ device: string; logged: number; alarms: number; occurrences: number }[]>`
    select r.device, r.logged, count(a.id)::int as alarms, coalesce(sum(a.occurrences), 0)::int as occurrences
    from (select device_id as device, count(*)::int as logged from message_log
          where device_id = any (select unnest(device_ids) from alarm_rules where id = ${ruleId}) and kind = 'property.report'
          group by device_id) r
    left join alarms a on a.device_id = r.device and a.source = ${`rule:${ruleId}`}
    group by r.device, r.logged order by r.device`;
  const settled = await eventually(
    async () => {
      const rows = await counts();
      return rows.length > 0 && rows.every((r) => r.occurrences >= r.logged) ? rows : undefined;
    },
    30_000,
    `${name}: iot-rules evaluating every report`,
  ).catch(async (err) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(await counts())}`);
  });
  console.log(`fault report | ${name} | rules: ${settled.map((r) => `${r.device} ${r.occurrences}/${r.logged}`).join(", ")}`);
  for (const r of settled)
    expect({ device: r.device, alarms: r.alarms, occurrences: r.occurrences }).toEqual({ device: r.device, alarms: 1, occurrences: r.logged });
}

/** A job over the case's devices, paced to one command per 10 s, so it is still running when the service dies. */
async function startJob(name: string, devices: string[]): Promise<string> {
  const created = await rig.ends.api.post("/api/v1/jobs", {
    name,
    target: { devices },
    operation: { kind: "service", service: "ping", params: { job: name } },
    rollout: { ratePerMinute: 6, maxInFlight: 1, offlineRetryMs: 1000, timeoutMs: 20_000 },
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

/** The job finished with every device done, each sent one command of it: none forgotten, none sent twice. */
async function expectJobDone(jobId: string, devices: string[], name: string): Promise<void> {
  const job = await eventually(
    async () => {
      const j = (await rig.ends.api.get(`/api/v1/jobs/${jobId}`)).body;
      return j.status === "completed" ? j : undefined;
    },
    60_000,
    `${name}: the job completed`,
  );
  const sent = await rig.ends.sql<{ device: string; commands: number }[]>`
    select device_id as device, count(*)::int as commands from commands where job_id = ${jobId} group by device_id order by device_id`;
  console.log(
    `fault report | ${name} | job: ${job.counts.succeeded}/${devices.length} succeeded, commands per device ${sent.map((s) => s.commands).join(",")}`,
  );
  expect(job.counts).toMatchObject({ succeeded: devices.length, failed: 0, timed_out: 0 });
  expect([...sent]).toEqual(devices.map((device) => ({ device, commands: 1 })).sort((a, b) => a.device.localeCompare(b.device)));
}

describe("a service killed mid-stream", () => {
  for (const { service, wsLive } of kills) {
    test(`iot-${service} SIGKILLed and restarted: no report lost or stored twice, every command acked, every report evaluated by iot-rules once, the running job done once per device`, async () => {
      const tag = `kill-${service}`;
      let job: { id: string; devices: string[] } | undefined;
      const report = await runFaultStream(
        rig.ends,
        `iot-${service} SIGKILL`,
        async () => {
          await rig.platform.kill(service, "SIGKILL");
          await rig.platform.restart(service);
        },
        {
          tag,
          beforeStream: async (ids) => {
            await alwaysHolding(`${tag}-rule`, ids);
            job = { id: await startJob(`${tag}-job`, ids), devices: ids };
          },
          // Its last command goes out some 20 s in, after the stream: the devices must still be there to answer.
          afterStream: () => expectJobDone(job!.id, job!.devices, `iot-${service} SIGKILL`),
        },
      );
      expectNoLoss(report, { wsLive });
      await expectEvaluatedOnce(`${tag}-rule`, report.name);
    }, 120_000);
  }
});
