import amqplib from "amqplib";
import { EXCHANGE, KINDS, QUEUES, routingKey } from "@umos/contracts";
import { deviceRepository, openDatabase, type Sql } from "@umos/store";
import { eventually, type TestStack } from "@umos/testkit";
import { scrape, total } from "../../../tests/deploy/exposition";
import { consumeQueue } from "../clients/amqp-sink";
import { connectFleet } from "../clients/devices";
import { created } from "../clients/rest";
import type { Path } from "../load/path";
import { pace } from "../load/pace";
import { growth, saturate } from "../load/saturate";
import { propertiesPayload } from "../payload";
import type { PhaseResult } from "../results";
import { startUsage, type WatchedProcess } from "../stats/process-usage";
import type { PlatformScenario } from "./platform";

const DEVICES = 1000;
const MODEL = "bench-sensor";
/** The bench's own queue on the event stage: a report there was stored by iot-uplink, which republishes after storing. */
const STORED_QUEUE = "bench-rules-stored";
/** A backlog smaller than this is drained without measuring: too few events for a figure. */
const DRAIN_MIN = 1000;
const DRAIN_TIMEOUT_MS = 600_000;
const DRAIN_POLL_MS = 250;
/** Reports a second in the paced phase: below what iot-rules evaluates alone on a 2-core machine (~530/s), so both services keep up. */
const PACED_RATE = 250;
/** The alarm changes rules make (iot_alarm_changes_total); people make the others. */
const RULE_CHANGES = ["raised", "escalated", "downgraded", "occurred", "cleared"] as const;

const numeric = (identifier: string, type: "int" | "float", min: number, max: number) => ({
  identifier,
  accessMode: "r",
  dataType: { type, specs: { min, max } },
});

const MODEL_DEFINITION = {
  properties: [numeric("temperature", "float", -40, 150), numeric("pressure", "float", 0, 200), numeric("battery", "int", 0, 100)],
};

/** A threshold held for a time, a range with a narrower band to clear in (hysteresis), and an escalation in two levels. */
const RULES = [
  {
    id: "bench-overheat",
    name: "Overheating",
    definition: { levels: [{ severity: "major", when: { property: "temperature", op: "gt", value: 80 }, forMs: 2000 }] },
  },
  {
    id: "bench-pressure",
    name: "Pressure out of range",
    definition: {
      levels: [{ severity: "warning", when: { property: "pressure", outside: [90, 110] } }],
      clear: { when: { property: "pressure", inside: [95, 105] } },
    },
  },
  {
    id: "bench-battery",
    name: "Battery low",
    definition: {
      levels: [
        { severity: "warning", when: { property: "battery", op: "lt", value: 30 } },
        { severity: "critical", when: { property: "battery", op: "lt", value: 15 }, forMs: 1000 },
      ],
      clear: { when: { property: "battery", op: "gt", value: 35 } },
    },
  },
];

/** Each device goes through this cycle, shifted by its index so that alarms come and go evenly over the run. */
const CYCLE_MS = 120_000;

/**
 * What device `i` reports at `now`: normal values most of the cycle, and one excursion per rule. The
 * temperature stays high 4.8 s (raised once it has held 2 s); the pressure leaves its range for 3.6 s,
 * then sits 3.6 s outside the clear band (the alarm holds, nothing is written); the battery is low 3.6 s,
 * then critical 3.6 s (escalated after 1 s). About one report in ten finds an alarm active and writes an
 * occurrence; a raise, escalation or clear comes every ~17 reports at one report a second per device.
 */
function reading(i: number, now: number): Record<string, number> {
  const at = ((now + (i * CYCLE_MS) / DEVICES) % CYCLE_MS) / CYCLE_MS;
  const within = (from: number, to: number) => at >= from && at < to;
  return {
    temperature: within(0, 0.04) ? 85 : 55 + (i % 10),
    pressure: within(0.25, 0.28) ? 115 : within(0.28, 0.31) ? 107 : 100,
    battery: within(0.5, 0.53) ? 25 : within(0.53, 0.56) ? 10 : 80,
  };
}

/**
 * The model and its rules through the REST API, as an operator makes them (checked against the
 * model); the devices straight into the store, which is not what is measured.
 */
async function register(stack: TestStack, sql: Sql, ids: readonly string[]): Promise<void> {
  await created(stack.api, "/api/v1/thing-models", { id: MODEL, definition: MODEL_DEFINITION });
  for (const rule of RULES) await created(stack.api, "/api/v1/rules", { ...rule, model: MODEL });
  const devices = deviceRepository(sql);
  await Promise.all(ids.map((id) => devices.create({ id, vendor: "generic", model: { id: MODEL } })));
}

/**
 * iot-rules under the whole pipeline: 1,000 devices on one thing model, 3 rules each, reporting
 * through the gateway, RabbitMQ, iot-uplink (store, republish) and iot-rules-queue.
 *
 * - `saturation`: the uplink's full rate (a closed loop on reports stored, seen on the event stage),
 *   with iot-rules' events evaluated, alarm changes and CPU over the same seconds. Whatever iot-rules
 *   does not keep up with stays in iot-rules-queue: its growth and its depth at the end are reported.
 * - `drain`: that backlog, evaluated by iot-rules with nothing else arriving: its rate alone, and
 *   every process's CPU per event evaluated.
 * - `paced`: PACED_RATE reports a second, which both keep up with: CPU per event of each at the same rate.
 */
export const rules: PlatformScenario = {
  id: "rules",
  async run({ stack, profile, processes }) {
    const ids = Array.from({ length: DEVICES }, (_, i) => `rules-${i}`);
    const db = openDatabase({ url: stack.database.url, maxConnections: 8 });
    const cleanups: (() => Promise<unknown>)[] = [() => db.close()];
    try {
      await register(stack, db.sql, ids);
      const connection = await amqplib.connect(stack.vhost.url);
      cleanups.unshift(() => connection.close());
      const channel = await connection.createChannel();
      await channel.assertQueue(STORED_QUEUE, { durable: false, autoDelete: true });
      await channel.bindQueue(STORED_QUEUE, EXCHANGE, routingKey("generic", "event", KINDS.propertyReport));
      const backlog = async () => (await channel.checkQueue(QUEUES.rules)).messageCount;
      const counters = async () => {
        const metrics = await scrape(stack.platform.ports.rules);
        return {
          evaluated: total(metrics, "iot_rules_events_total", { outcome: "evaluated" }),
          skipped: total(metrics, "iot_rules_events_total", { outcome: "skipped" }),
          ...Object.fromEntries(RULE_CHANGES.map((change) => [`alarms ${change}`, total(metrics, "iot_alarm_changes_total", { change })])),
          // A depth, not a counter: what the phase reports is how much it grew.
          "iot-rules-queue growth": await backlog(),
        };
      };

      const fleet = await connectFleet(stack.broker.url, ids);
      cleanups.unshift(() => fleet.close());
      // Born online before reporting, as devices do (docs/interfaces.md: presence), and that news through
      // iot-rules (which skips it) before the phase: the phase carries reports only.
      await fleet.announceOnline();
      const online = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from devices where online and id in ${db.sql(ids)}`)[0]!.n;
      await eventually(async () => (await online()) === DEVICES, 30_000, "the devices online");
      await drained(backlog);
      const path: Path = { send: (seq) => fleet.report(seq, propertiesPayload(reading(seq % DEVICES, Date.now()))), arrived: () => {} };
      const sink = await consumeQueue(stack.vhost.url, STORED_QUEUE, () => path.arrived(0));
      cleanups.unshift(() => sink.close());

      const { warmupSeconds, seconds } = profile;
      const saturated = await saturate(path, { window: profile.window, warmupSeconds, seconds, processes: processes(), counters });
      const left = await backlog();
      const counts: Record<string, number> = { ...saturated.counts, "iot-rules-queue at end": left };
      const figures = sideBySide(saturated.usage, counts.evaluated ?? 0, saturated.messages, saturated.seconds);

      const phases: Record<string, PhaseResult> = { saturation: { ...saturated, counts, figures } };
      if (left >= DRAIN_MIN) phases.drain = await drain(backlog, counters, processes);
      else await drained(backlog);

      // The sink reports arrivals without a send stamp: this phase has no latency to show.
      const { latency: _, ...paced } = await pace(path, { rate: PACED_RATE, warmupSeconds, seconds, processes: processes(), counters });
      const pacedCounts: Record<string, number> = { ...paced.counts, "iot-rules-queue at end": await backlog() };
      phases.paced = { ...paced, counts: pacedCounts, figures: sideBySide(paced.usage, pacedCounts.evaluated ?? 0, paced.messages, seconds) };
      await drained(backlog);
      return { id: "rules", title: `iot-rules: ${DEVICES.toLocaleString("en-US")} devices x ${RULES.length} rules, behind iot-uplink`, phases };
    } finally {
      for (const cleanup of cleanups) await cleanup().catch((err) => console.error(`bench cleanup: ${String(err)}`));
    }
  },
};

/** iot-rules' rate and CPU per event beside iot-uplink's, from one phase's usage. */
function sideBySide(usage: PhaseResult["usage"], evaluated: number, stored: number, seconds: number): Record<string, number> {
  const cpuMsPer = (service: string, events: number) => (events > 0 ? ((usage[service]?.cpuSeconds ?? 0) * 1000) / events : 0);
  const rules = cpuMsPer("rules", evaluated);
  const uplink = cpuMsPer("uplink", stored);
  return {
    "iot-rules events/s": evaluated / seconds,
    "iot-uplink reports/s": stored / seconds,
    "iot-rules CPU ms/event": rules,
    "iot-uplink CPU ms/report": uplink,
    "CPU per event, iot-rules / iot-uplink": uplink > 0 ? rules / uplink : 0,
  };
}

/** Resolves once iot-rules-queue is empty; throws after DRAIN_TIMEOUT_MS. */
async function drained(backlog: () => Promise<number>): Promise<void> {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while ((await backlog()) > 0) {
    if (performance.now() > deadline) throw new Error(`iot-rules-queue not drained within ${DRAIN_TIMEOUT_MS} ms`);
    await Bun.sleep(DRAIN_POLL_MS);
  }
}

/** The backlog evaluated with nothing else arriving: iot-rules' rate alone, CPU per event evaluated. */
async function drain(backlog: () => Promise<number>, counters: () => Promise<Record<string, number>>, processes: () => WatchedProcess[]): Promise<PhaseResult> {
  const before = await counters();
  const usage = startUsage(processes());
  const started = performance.now();
  await drained(backlog);
  const seconds = (performance.now() - started) / 1000;
  const counts = growth(before, await counters());
  const evaluated = counts.evaluated!;
  const phase: PhaseResult = { throughput: evaluated / seconds, messages: evaluated, usage: usage.stop(evaluated), counts };
  phase.figures = { "iot-rules events/s": evaluated / seconds, "iot-rules CPU ms/event": phase.usage.rules?.cpuSecondsPer1000 ?? 0 };
  return phase;
}
