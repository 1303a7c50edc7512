import type { Envelope, Vendor } from "@umos/contracts";
import type { Clock, Logger } from "@umos/core";
import {
  compileRule,
  type Action,
  type CompiledRule,
  type Facts,
  HMS_EVENT,
  HMS_SOURCE_PREFIX,
  hmsItems,
  type Input,
  inputOf,
  newFacts,
  parseRule,
  reads,
  type Severity,
  severityRank,
  step,
  type Timers,
} from "@umos/rules";
import { type Alarm, type AlarmChange, alarmColumns, json, queueAlarmEvent, ruleRepository, type Rule, type Sql } from "@umos/store";

/** The rule of a state row, as the sweep finds it; a built-in has no rule row. */
const HMS_STATE = "dji.hms";
/** The platform alarm's source: one for the whole installation. */
export const PLATFORM_DEAD_LETTERS = "platform.dead_letters";
/** States one sweep transaction takes at most: short transactions, the rest next time. */
export const SWEEP_BATCH = 200;

interface DeviceRules {
  vendor: Vendor;
  modelId: string | null;
  rules: { rule: Rule; compiled: CompiledRule }[];
  at: number;
}

export type ChangeCounter = (change: AlarmChange) => void;

/**
 * Rules evaluated on PostgreSQL (docs/alarms.md): each event is one transaction that records its id
 * (a redelivery, here or on another replica, changes nothing), locks the device's rule states in
 * rule order, steps each rule and writes the alarm and its event (outbox) with the new state. The
 * sweep steps states whose durations are due, taking rows other replicas do not hold (SKIP LOCKED).
 */
export function createEvaluator({
  sql,
  clock,
  log,
  ruleCacheMs,
  counted,
}: {
  sql: Sql;
  clock: Clock;
  log: Logger;
  ruleCacheMs: number;
  counted: ChangeCounter;
}) {
  const rules = ruleRepository(sql);
  const devices = new Map<string, DeviceRules>();
  const compiled = new Map<string, CompiledRule>();

  const compile = (rule: Rule): CompiledRule => {
    const key = `${rule.id}@${rule.version}`;
    let c = compiled.get(key);
    if (!c) {
      c = compileRule(parseRule(rule.definition));
      compiled.set(key, c);
    }
    return c;
  };

  async function rulesOf(deviceId: string): Promise<DeviceRules | null> {
    const cached = devices.get(deviceId);
    if (cached && clock.now() - cached.at < ruleCacheMs) return cached;
    const [device] = await sql<{ vendor: Vendor; modelId: string | null }[]>`select vendor, model_id as "modelId" from devices where id = ${deviceId}`;
    if (!device) {
      devices.delete(deviceId);
      return null;
    }
    const list: DeviceRules["rules"] = [];
    for (const rule of await rules.forDevice(deviceId, device.modelId)) {
      try {
        list.push({ rule, compiled: compile(rule) });
      } catch (err) {
        // Rules are checked when saved; one that no longer parses (a newer schema) is shown on the rule list, not evaluated.
        log.warn("a rule does not parse; skipped", { rule: rule.id, version: rule.version, err });
        await sql`update alarm_rule_state set last_error = ${`version ${rule.version} does not parse: ${describe(err)}`.slice(0, 1000)}
          where rule_id = ${rule.id}`;
      }
    }
    const entry = { ...device, rules: list.sort((a, b) => a.rule.id.localeCompare(b.rule.id)), at: clock.now() };
    devices.set(deviceId, entry);
    if (devices.size > 100_000) devices.delete(devices.keys().next().value!);
    return entry;
  }

  /** Loads (creating if new) and locks one state row. */
  async function lockState(tx: Sql, ruleId: string, deviceId: string, version: number, t: number) {
    await tx`
      insert into alarm_rule_state (rule_id, device_id, rule_version, facts) values (${ruleId}, ${deviceId}, ${version}, ${json(tx, newFacts(t))})
      on conflict do nothing`;
    const [row] = await tx<{ version: number; facts: Facts; timers: Timers }[]>`
      select rule_version as version, facts, timers from alarm_rule_state where rule_id = ${ruleId} and device_id = ${deviceId} for update`;
    return row!;
  }

  const activeAlarm = async (tx: Sql, deviceId: string | null, source: string) =>
    (
      await tx<Alarm[]>`
        select ${alarmColumns(tx)} from alarms where coalesce(device_id, '') = ${deviceId ?? ""} and source = ${source} and status = 'active' for update`
    )[0] ?? null;

  /** Writes what a step decided about the alarm, with its event in the outbox. */
  async function act(
    tx: Sql,
    target: { deviceId: string | null; vendor: Vendor; source: string; type: string; ruleId: string | null; ruleVersion: number | null },
    active: Alarm | null,
    action: Action,
    at: number,
  ): Promise<void> {
    const when = new Date(at);
    let alarm: Alarm | undefined;
    let change: AlarmChange;
    if (action.type === "raise") {
      [alarm] = await tx<Alarm[]>`
        insert into alarms (id, device_id, vendor, source, type, rule_id, rule_version, severity, status, started_at, last_seen_at, details)
        values (${Bun.randomUUIDv7()}, ${target.deviceId}, ${target.vendor}, ${target.source}, ${target.type}, ${target.ruleId},
          ${target.ruleVersion}, ${action.severity}, 'active', ${when}, ${when}, ${json(tx, action.details)})
        returning ${alarmColumns(tx)}`;
      change = "raised";
    } else if (!active) return;
    else if (action.type === "clear") {
      [alarm] = await tx<Alarm[]>`
        update alarms set status = 'cleared', ended_at = ${when}, cleared_by = 'rule', updated_at = now(),
          details = details || ${json(tx, { cleared: action.details })}
        where id = ${active.id} returning ${alarmColumns(tx)}`;
      change = "cleared";
    } else {
      [alarm] = await tx<Alarm[]>`
        update alarms set severity = ${action.severity}, last_seen_at = greatest(last_seen_at, ${when}), occurrences = occurrences + 1,
          details = ${json(tx, action.details)}, updated_at = now()
        where id = ${active.id} returning ${alarmColumns(tx)}`;
      change = action.type === "occur" ? "occurred" : action.type === "escalate" ? "escalated" : "downgraded";
    }
    // An occurrence changes counts only: announced to WebSocket clients, but it is not a notification trigger.
    await queueAlarmEvent(tx, alarm!, change);
    counted(change);
  }

  async function stepRule(tx: Sql, entry: { rule: Rule; compiled: CompiledRule }, deviceId: string, vendor: Vendor, input: Input): Promise<void> {
    const { rule, compiled: c } = entry;
    const state = await lockState(tx, rule.id, deviceId, rule.version, input.ts);
    // A new version starts its durations afresh; the facts (latest values) stay true.
    const timers: Timers = state.version === rule.version ? { ...state.timers, levels: state.timers.levels ?? {} } : { levels: {} };
    const source = `rule:${rule.id}`;
    const active = await activeAlarm(tx, deviceId, source);
    const result = step(c, state.facts, timers, (active?.severity as Severity | undefined) ?? null, input);
    if (result.action) {
      await act(
        tx,
        { deviceId, vendor, source, type: rule.name, ruleId: rule.id, ruleVersion: rule.version },
        active,
        result.action,
        result.timers.t ?? input.ts,
      );
    }
    await tx`
      update alarm_rule_state set rule_version = ${rule.version}, facts = ${json(tx, result.facts)}, timers = ${json(tx, result.timers)},
        due_at = ${result.dueAt === null ? null : new Date(result.dueAt)}, evaluated_at = now(), last_error = null
      where rule_id = ${rule.id} and device_id = ${deviceId}`;
  }

  /**
   * DJI health without a rule: each code in the list is an alarm at its level; a code absent from a
   * newer list has cleared. The newest list wins, by device time.
   */
  async function stepHms(tx: Sql, deviceId: string, vendor: Vendor, input: Extract<Input, { kind: "event" }>): Promise<void> {
    const state = await lockState(tx, HMS_STATE, deviceId, 1, input.ts);
    const seenTs = (state.facts as Facts & { hmsTs?: number }).hmsTs;
    if (seenTs !== undefined && seenTs > input.ts) return;
    const items = hmsItems(input.data);
    const current = new Set(items.map((i) => `${HMS_SOURCE_PREFIX}${i.code}`));
    for (const item of items) {
      const source = `${HMS_SOURCE_PREFIX}${item.code}`;
      const active = await activeAlarm(tx, deviceId, source);
      const details = { at: input.ts, hms: item.item };
      const action: Action = !active
        ? { type: "raise", severity: item.severity, details }
        : active.severity === item.severity
          ? { type: "occur", severity: item.severity, details }
          : { type: severityRank(item.severity) > severityRank(active.severity) ? "escalate" : "downgrade", severity: item.severity, details };
      await act(tx, { deviceId, vendor, source, type: `DJI HMS ${item.code}`, ruleId: null, ruleVersion: null }, active, action, input.ts);
    }
    const stale = await tx<{ source: string }[]>`
      select source from alarms where device_id = ${deviceId} and status = 'active' and source like ${`${HMS_SOURCE_PREFIX}%`}`;
    for (const { source } of stale) {
      if (current.has(source)) continue;
      const active = await activeAlarm(tx, deviceId, source);
      await act(tx, { deviceId, vendor, source, type: "", ruleId: null, ruleVersion: null }, active, { type: "clear", details: { at: input.ts } }, input.ts);
    }
    await tx`update alarm_rule_state set facts = ${json(tx, { ...state.facts, hmsTs: input.ts })}, evaluated_at = now()
      where rule_id = ${HMS_STATE} and device_id = ${deviceId}`;
  }

  return {
    /** Evaluates one validated event; returns whether anything was written (the outbox may need a flush). */
    async evaluate(envelope: Envelope): Promise<boolean> {
      const input = inputOf(envelope);
      if (!input) return false;
      const device = await rulesOf(envelope.deviceId);
      if (!device) return false;
      const relevant = device.rules.filter((r) => reads(r.compiled, input));
      const hms = device.vendor === "dji" && input.kind === "event" && input.name === HMS_EVENT ? input : null;
      if (relevant.length === 0 && !hms) return false;
      return sql.begin(async (tx) => {
        const [fresh] = await tx`insert into alarm_events_seen (event_id) values (${envelope.id}) on conflict do nothing returning event_id`;
        if (!fresh) return false;
        for (const entry of relevant) await stepRule(tx as unknown as Sql, entry, envelope.deviceId, device.vendor, input);
        if (hms) await stepHms(tx as unknown as Sql, envelope.deviceId, device.vendor, hms);
        return true;
      });
    },

    /** Steps every state whose time has come; returns how many. */
    async sweep(): Promise<number> {
      const now = clock.now();
      return sql.begin(async (tx) => {
        const due = await tx<{ ruleId: string; deviceId: string; vendor: Vendor }[]>`
          select s.rule_id as "ruleId", s.device_id as "deviceId", d.vendor from alarm_rule_state s join devices d on d.id = s.device_id
          where s.due_at <= ${new Date(now)} order by s.due_at limit ${SWEEP_BATCH} for update of s skip locked`;
        for (const { ruleId, deviceId, vendor } of due) {
          const device = await rulesOf(deviceId);
          const entry = device?.rules.find((r) => r.rule.id === ruleId);
          if (!entry) {
            await tx`update alarm_rule_state set due_at = null where rule_id = ${ruleId} and device_id = ${deviceId}`;
            continue;
          }
          await stepRule(tx as unknown as Sql, entry, deviceId, vendor, { kind: "tick", ts: now });
        }
        return due.length;
      });
    },

    /**
     * The platform alarm `platform.dead_letters`: dead letters waiting (archived, not replayed) at or past
     * `threshold` raise it as major, ten times that as critical; it clears once fewer than half the
     * threshold wait, so a backlog hovering at the threshold does not flap.
     */
    async checkDeadLetters(threshold: number): Promise<void> {
      const [row] = await sql<{ waiting: number }[]>`select count(*)::int as waiting from dead_letters where replayed_at is null`;
      const waiting = row?.waiting ?? 0;
      await sql.begin(async (tx) => {
        const t = tx as unknown as Sql;
        const active = await activeAlarm(t, null, PLATFORM_DEAD_LETTERS);
        // Between half the threshold and the threshold an alarm that is up stays up, as major.
        const severity: Severity | null =
          waiting >= threshold * 10 ? "critical" : waiting >= threshold || (active && waiting >= threshold / 2) ? "major" : null;
        const details = { at: clock.now(), waiting, threshold };
        const target = {
          deviceId: null,
          vendor: "generic" as const,
          source: PLATFORM_DEAD_LETTERS,
          type: "Dead letters piling up",
          ruleId: null,
          ruleVersion: null,
        };
        if (severity && (!active || active.severity !== severity)) {
          const type = !active ? "raise" : severityRank(severity) > severityRank(active.severity) ? "escalate" : "downgrade";
          await act(t, target, active, { type, severity, details }, clock.now());
        } else if (!severity && active) await act(t, target, active, { type: "clear", details }, clock.now());
      });
    },

    /** Forgets evaluated event ids older than `olderThanMs`. */
    async forgetSeen(olderThanMs: number): Promise<number> {
      const removed = await sql`delete from alarm_events_seen where seen_at < ${new Date(clock.now() - olderThanMs)}`;
      return removed.count;
    },

    /** Records a failure to evaluate an event of the device on its rules' states, for the rule list. */
    async recordError(deviceId: string, err: unknown): Promise<void> {
      await sql`update alarm_rule_state set last_error = ${describe(err).slice(0, 1000)} where device_id = ${deviceId}`;
    },
  };
}

export type Evaluator = ReturnType<typeof createEvaluator>;

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));
