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

describe("a service killed mid-stream", () => {
  for (const { service, wsLive } of kills) {
    test(`iot-${service} SIGKILLed and restarted: no report lost or stored twice, every command acked, every report evaluated by iot-rules once`, async () => {
      const tag = `kill-${service}`;
      const report = await runFaultStream(
        rig.ends,
        `iot-${service} SIGKILL`,
        async () => {
          await rig.platform.kill(service, "SIGKILL");
          await rig.platform.restart(service);
        },
        { tag, beforeStream: (ids) => alwaysHolding(`${tag}-rule`, ids) },
      );
      expectNoLoss(report, { wsLive });
      await expectEvaluatedOnce(`${tag}-rule`, report.name);
    }, 120_000);
  }
});
