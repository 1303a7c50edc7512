import { type Envelope, KINDS, type Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { type CompiledRule, compileRule, type Input, inputOf, newFacts, reads, type RuleDefinition, type Severity, step, type Timers } from "@umos/rules";
import type { Sql } from "@umos/store";

/**
 * What one dry run may read (docs/alarms.md, Dry run): it runs inside one request, so it is bounded
 * the way the telemetry queries are, and past a limit it is refused, not cut short.
 */
export const DRY_RUN_LIMITS = { devices: 100, rangeDays: 31, messages: 100_000 } as const;

/** The kinds a rule reads (@umos/rules inputOf); requests and replies in the log are not read at all. */
const READ_KINDS: string[] = [KINDS.propertyReport, KINDS.eventReport, KINDS.statusOnline, KINDS.statusOffline, KINDS.commandStatus];
/** Rows fetched from PostgreSQL at a time: the run holds one batch of messages, not the range. */
const BATCH = 1000;

export interface Transition {
  deviceId: string;
  at: Date;
  action: "raise" | "escalate" | "downgrade" | "clear";
  /** The alarm's severity after the change; for a clear, the severity it had. */
  severity: Severity;
  details: Record<string, unknown>;
}

export interface DryRunResult {
  transitions: Transition[];
  messages: number;
  devices: number;
}

/**
 * A rule replayed over the message log of its devices in device-time order, through the same pure
 * engine iot-rules runs (@umos/rules step), with the sweep's ticks between messages at the times the
 * engine asks for, so durations and silences end where they would have. Reads only: nothing is
 * raised, stored or published. Each device starts with no facts and no alarm at `from`.
 */
export async function dryRun(sql: Sql, definition: RuleDefinition, deviceIds: string[], fromMs: number, toMs: number): Promise<DryRunResult> {
  if (fromMs >= toMs) throw new InvalidInputError("invalid_range", "from must be before to");
  const days = (toMs - fromMs) / 86_400_000;
  if (days > DRY_RUN_LIMITS.rangeDays) {
    throw new InvalidInputError("range_too_long", `the range is ${Math.ceil(days)} days; a dry run reads at most ${DRY_RUN_LIMITS.rangeDays} days`);
  }
  if (deviceIds.length > DRY_RUN_LIMITS.devices) {
    throw new InvalidInputError(
      "too_many_devices",
      `the rule applies to more than ${DRY_RUN_LIMITS.devices} devices; a dry run evaluates at most ${DRY_RUN_LIMITS.devices}: name one with device`,
    );
  }
  const rule = compileRule(definition);
  const runs = new Map([...deviceIds].sort().map((id) => [id, replay(rule, id, fromMs)]));
  let messages = 0;
  const rows = sql<{ id: string; vendor: Vendor; deviceId: string; kind: string; ts: Date; data: unknown }[]>`
    select id, vendor, device_id as "deviceId", kind, ts, data from message_log
    where device_id = any(${deviceIds}::text[]) and kind = any(${READ_KINDS}::text[]) and ts >= ${new Date(fromMs)} and ts < ${new Date(toMs)}
    order by device_id, ts, id`.cursor(BATCH);
  for await (const batch of rows) {
    messages += batch.length;
    if (messages > DRY_RUN_LIMITS.messages) {
      throw new InvalidInputError(
        "too_many_messages",
        `these devices logged more than ${DRY_RUN_LIMITS.messages} messages in the range; a dry run reads at most ${DRY_RUN_LIMITS.messages}: shorten the range or name one device`,
      );
    }
    for (const row of batch) {
      const envelope: Envelope = { id: row.id, ts: row.ts.getTime(), vendor: row.vendor, deviceId: row.deviceId, kind: row.kind, data: row.data };
      const input = inputOf(envelope);
      if (input) runs.get(row.deviceId)?.feed(input);
    }
  }
  for (const run of runs.values()) run.finish(toMs);
  return { transitions: [...runs.values()].flatMap((run) => run.transitions), messages, devices: runs.size };
}

/** One device's run: its facts, timers and alarm as iot-rules would hold them, and what changed. */
function replay(rule: CompiledRule, deviceId: string, fromMs: number) {
  let facts = newFacts(fromMs);
  let timers: Timers = { levels: {} };
  let active: Severity | null = null;
  let dueAt: number | null = null;
  const transitions: Transition[] = [];
  const apply = (input: Input) => {
    const next = step(rule, facts, timers, active, input);
    ({ facts, timers, dueAt } = next);
    const action = next.action;
    // An occurrence repeats the alarm that is up; it is no transition.
    if (!action || action.type === "occur") return;
    const severity = action.type === "clear" ? active! : action.severity;
    transitions.push({ deviceId, at: new Date(timers.t ?? input.ts), action: action.type, severity, details: action.details });
    active = action.type === "clear" ? null : action.severity;
  };
  const tickUntil = (ms: number) => {
    while (dueAt !== null && dueAt <= ms) apply({ kind: "tick", ts: dueAt });
  };
  // The first tick starts the clocks that run without messages (silence since `from`).
  apply({ kind: "tick", ts: fromMs });
  return {
    transitions,
    feed(input: Input) {
      tickUntil(input.ts);
      if (reads(rule, input)) apply(input);
    },
    finish: tickUntil,
  };
}
