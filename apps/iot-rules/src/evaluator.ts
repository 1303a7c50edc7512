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
import { ruleRepository, type Rule, type Sql } from "@umos/store";
import { type AlarmWriter, alarmKey, type ChangeCounter, createAlarmWriter, lockActiveAlarms } from "./alarm-writer";

/** The rule of a state row, as the sweep finds it; a built-in has no rule row. */
const HMS_STATE = "dji.hms";
/** States one sweep transaction takes at most: short transactions, the rest next time. */
export const SWEEP_BATCH = 200;

type Entry = { rule: Rule; compiled: CompiledRule };

interface DeviceRules {
  vendor: Vendor;
  modelId: string | null;
  rules: Entry[];
  at: number;
}

/** One state row, locked, as this transaction changes it. */
interface State {
  ruleId: string;
  deviceId: string;
  version: number;
  facts: Facts & { hmsTs?: number };
  timers: Timers;
  dueAt: number | null;
  changed: boolean;
}

/** What one input does: the rules it reaches on its device, and DJI health when it is an `hms` event. */
interface Work {
  deviceId: string;
  vendor: Vendor;
  input: Input;
  rules: Entry[];
  hms: boolean;
}

/** A rule state's key, and a wanted state's. */
const key = alarmKey;
const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Rules evaluated on PostgreSQL (docs/alarms.md). A batch of events is one transaction: it records
 * their ids (a redelivery, here or on another replica, changes nothing), locks the rule states they
 * reach and their devices' active alarms in a fixed order, steps every rule in memory in event
 * order, and writes the alarms with their events (outbox) and the states back. The statements per
 * batch do not grow with its size but for alarm changes, so a busy iot-rules does more per round
 * trip, not more round trips. The sweep steps states whose durations are due, taking rows no other
 * replica holds (SKIP LOCKED).
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
    const id = `${rule.id}@${rule.version}`;
    let c = compiled.get(id);
    if (!c) {
      c = compileRule(parseRule(rule.definition));
      compiled.set(id, c);
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
    const list: Entry[] = [];
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

  /** Creates the missing state rows and locks them all, in (rule, device) order so concurrent batches wait rather than deadlock. */
  async function lockStates(tx: Sql, wanted: { ruleId: string; deviceId: string; version: number; t: number }[]): Promise<Map<string, State>> {
    const sorted = [...wanted].sort((a, b) => a.ruleId.localeCompare(b.ruleId) || a.deviceId.localeCompare(b.deviceId));
    const ruleIds = sorted.map((w) => w.ruleId);
    const deviceIds = sorted.map((w) => w.deviceId);
    await tx`
      insert into alarm_rule_state (rule_id, device_id, rule_version, facts)
      select r, d, v, f::jsonb from unnest(${ruleIds}::text[], ${deviceIds}::text[], ${sorted.map((w) => w.version)}::int[],
        ${sorted.map((w) => JSON.stringify(newFacts(w.t)))}::text[]) as x(r, d, v, f)
      on conflict do nothing`;
    return lockedStates(
      await tx<{ ruleId: string; deviceId: string; version: number; facts: State["facts"]; timers: Timers }[]>`
        select rule_id as "ruleId", device_id as "deviceId", rule_version as version, facts, timers from alarm_rule_state
        where (rule_id, device_id) in (select * from unnest(${ruleIds}::text[], ${deviceIds}::text[]))
        order by rule_id, device_id for update`,
    );
  }

  async function saveStates(tx: Sql, states: Iterable<State>): Promise<void> {
    const changed = [...states].filter((s) => s.changed);
    if (changed.length === 0) return;
    await tx`
      update alarm_rule_state s
      set rule_version = v.version, facts = v.facts::jsonb, timers = v.timers::jsonb, due_at = v.due_at::timestamptz, evaluated_at = now(), last_error = null
      -- JSON as text, cast per row: a jsonb[] parameter would encode each JSON text as a string once more.
      from unnest(${changed.map((s) => s.ruleId)}::text[], ${changed.map((s) => s.deviceId)}::text[], ${changed.map((s) => s.version)}::int[],
        ${changed.map((s) => JSON.stringify(s.facts))}::text[], ${changed.map((s) => JSON.stringify(s.timers))}::text[],
        ${changed.map((s) => (s.dueAt === null ? null : new Date(s.dueAt).toISOString()))}::text[])
        as v(rule_id, device_id, version, facts, timers, due_at)
      where s.rule_id = v.rule_id and s.device_id = v.device_id`;
  }

  async function stepRule(writer: AlarmWriter, state: State, entry: Entry, w: Pick<Work, "deviceId" | "vendor" | "input">): Promise<void> {
    const { rule, compiled: c } = entry;
    // A new version starts its durations afresh; the facts (latest values) stay true.
    const timers: Timers = state.version === rule.version ? { ...state.timers, levels: state.timers.levels ?? {} } : { levels: {} };
    const source = `rule:${rule.id}`;
    const result = step(c, state.facts, timers, (writer.active(w.deviceId, source)?.severity as Severity | undefined) ?? null, w.input);
    if (result.action) {
      const target = { deviceId: w.deviceId, vendor: w.vendor, source, type: rule.name, ruleId: rule.id, ruleVersion: rule.version };
      await writer.act(target, result.action, result.timers.t ?? w.input.ts);
    }
    Object.assign(state, { version: rule.version, facts: result.facts, timers: result.timers, dueAt: result.dueAt, changed: true });
  }

  /**
   * DJI health without a rule: each code in the list is an alarm at its level; a code absent from a
   * newer list has cleared. The newest list wins, by device time.
   */
  async function stepHms(writer: AlarmWriter, state: State, w: Work): Promise<void> {
    const input = w.input as Extract<Input, { kind: "event" }>;
    if (state.facts.hmsTs !== undefined && state.facts.hmsTs > input.ts) return;
    const items = hmsItems(input.data);
    const current = new Set(items.map((i) => `${HMS_SOURCE_PREFIX}${i.code}`));
    for (const item of items) {
      const source = `${HMS_SOURCE_PREFIX}${item.code}`;
      const active = writer.active(w.deviceId, source);
      const details = { at: input.ts, hms: item.item };
      const action: Action = !active
        ? { type: "raise", severity: item.severity, details }
        : active.severity === item.severity
          ? { type: "occur", severity: item.severity, details }
          : { type: severityRank(item.severity) > severityRank(active.severity) ? "escalate" : "downgrade", severity: item.severity, details };
      await writer.act({ deviceId: w.deviceId, vendor: w.vendor, source, type: `DJI HMS ${item.code}`, ruleId: null, ruleVersion: null }, action, input.ts);
    }
    for (const source of writer.activeSources(w.deviceId)) {
      if (!source.startsWith(HMS_SOURCE_PREFIX) || current.has(source)) continue;
      const target = { deviceId: w.deviceId, vendor: w.vendor, source, type: "", ruleId: null, ruleVersion: null };
      await writer.act(target, { type: "clear", details: { at: input.ts } }, input.ts);
    }
    Object.assign(state, { facts: { ...state.facts, hmsTs: input.ts }, changed: true });
  }

  /** What each event asks for; null for one that nothing reads. */
  async function workOf(envelope: Envelope): Promise<Work | null> {
    const input = inputOf(envelope);
    if (!input) return null;
    const device = await rulesOf(envelope.deviceId);
    if (!device) return null;
    const reached = device.rules.filter((r) => reads(r.compiled, input));
    const hms = device.vendor === "dji" && input.kind === "event" && input.name === HMS_EVENT;
    if (reached.length === 0 && !hms) return null;
    return { deviceId: envelope.deviceId, vendor: device.vendor, input, rules: reached, hms };
  }

  return {
    /**
     * Evaluates a batch of validated events in one transaction, in their order; returns how many
     * wrote anything (each written event's id is recorded, so its redelivery is skipped).
     */
    async evaluate(envelopes: Envelope[]): Promise<number> {
      const work = new Map<string, Work>();
      for (const envelope of envelopes) {
        if (work.has(envelope.id)) continue;
        const w = await workOf(envelope);
        if (w) work.set(envelope.id, w);
      }
      if (work.size === 0) return 0;
      return sql.begin(async (begun) => {
        const tx = begun as unknown as Sql;
        const inserted = await tx<{ id: string }[]>`
          insert into alarm_events_seen (event_id) select * from unnest(${[...work.keys()]}::text[]) on conflict do nothing returning event_id as id`;
        const fresh = new Set(inserted.map((r) => r.id));
        // In the batch's order (a Map keeps it): the inserted ids come back in no promised order.
        const todo = [...work].filter(([id]) => fresh.has(id)).map(([, w]) => w);
        if (todo.length === 0) return 0;
        const wanted = new Map<string, { ruleId: string; deviceId: string; version: number; t: number }>();
        for (const w of todo) {
          for (const { rule } of w.rules)
            if (!wanted.has(key(rule.id, w.deviceId)))
              wanted.set(key(rule.id, w.deviceId), { ruleId: rule.id, deviceId: w.deviceId, version: rule.version, t: w.input.ts });
          if (w.hms && !wanted.has(key(HMS_STATE, w.deviceId)))
            wanted.set(key(HMS_STATE, w.deviceId), { ruleId: HMS_STATE, deviceId: w.deviceId, version: 1, t: w.input.ts });
        }
        const states = await lockStates(tx, [...wanted.values()]);
        const writer = createAlarmWriter(
          tx,
          await lockActiveAlarms(
            tx,
            todo.map((w) => w.deviceId),
          ),
          counted,
        );
        for (const w of todo) {
          for (const entry of w.rules) await stepRule(writer, states.get(key(entry.rule.id, w.deviceId))!, entry, w);
          if (w.hms) await stepHms(writer, states.get(key(HMS_STATE, w.deviceId))!, w);
        }
        await writer.finish();
        await saveStates(tx, states.values());
        return todo.length;
      });
    },

    /** Steps every state whose time has come; returns how many. */
    async sweep(): Promise<number> {
      const now = clock.now();
      return sql.begin(async (begun) => {
        const tx = begun as unknown as Sql;
        const due = lockedStates(
          await tx<{ ruleId: string; deviceId: string; version: number; facts: State["facts"]; timers: Timers }[]>`
            select rule_id as "ruleId", device_id as "deviceId", rule_version as version, facts, timers from alarm_rule_state
            where due_at <= ${new Date(now)} order by rule_id, device_id limit ${SWEEP_BATCH} for update skip locked`,
        );
        if (due.size === 0) return 0;
        const writer = createAlarmWriter(
          tx,
          await lockActiveAlarms(
            tx,
            [...due.values()].map((s) => s.deviceId),
          ),
          counted,
        );
        for (const state of due.values()) {
          const device = await rulesOf(state.deviceId);
          const entry = device?.rules.find((r) => r.rule.id === state.ruleId);
          // A rule removed, disabled or no longer for this device: nothing is due any more.
          if (!device || !entry) Object.assign(state, { dueAt: null, changed: true });
          else await stepRule(writer, state, entry, { deviceId: state.deviceId, vendor: device.vendor, input: { kind: "tick", ts: now } });
        }
        await writer.finish();
        await saveStates(tx, due.values());
        return due.size;
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

function lockedStates(rows: { ruleId: string; deviceId: string; version: number; facts: State["facts"]; timers: Timers }[]): Map<string, State> {
  return new Map(rows.map((r) => [key(r.ruleId, r.deviceId), { ...r, timers: { ...r.timers, levels: r.timers.levels ?? {} }, dueAt: null, changed: false }]));
}
