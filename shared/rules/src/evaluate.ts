import { type Condition, type Op, type RuleDefinition, type Severity, SEVERITIES, severityRank } from "./definition";

/**
 * What one rule remembers about one device between inputs (stored by iot-rules, so a restart or a
 * second replica goes on from it): the latest value of each property the rule reads with its device
 * time, the one before it (for `changed`), presence, and recent counted command outcomes.
 */
export interface Facts {
  props: Record<string, { v: unknown; ts: number; prev?: unknown }>;
  /** When the rule first saw this device: silence is counted from here until its first report. */
  since: number;
  lastReport?: number;
  /** null: online; a time: offline since then; absent: never told. */
  offlineSince?: number | null;
  presenceTs?: number;
  outcomes?: { ts: number; status: string; command?: string }[];
}

/** Since when each level's condition holds, and the clear condition's; `t` is the time last evaluated at. */
export interface Timers {
  levels: Partial<Record<Severity, number>>;
  clear?: number;
  t?: number;
}

/** What a rule is fed: a device's message (at its device time) or the sweep's tick (at the wall clock). */
export type Input =
  | { kind: "property"; ts: number; data: Record<string, unknown> }
  | { kind: "event"; ts: number; name: string; data: unknown }
  | { kind: "presence"; ts: number; online: boolean }
  | { kind: "command"; ts: number; status: string; command?: string }
  | { kind: "tick"; ts: number };

export type Action =
  | { type: "raise" | "escalate" | "downgrade" | "occur"; severity: Severity; details: Record<string, unknown> }
  | { type: "clear"; details: Record<string, unknown> };

export interface Step {
  facts: Facts;
  timers: Timers;
  /** The earliest time (same clock as the inputs) at which a tick could change something; null: none. */
  dueAt: number | null;
  action: Action | null;
}

/** A rule read once: what it looks at, so inputs it does not read are skipped without a database write. */
export interface CompiledRule {
  definition: RuleDefinition;
  properties: ReadonlySet<string>;
  events: ReadonlySet<string>;
  silence: boolean;
  presence: boolean;
  commands: { withinMs: number; atLeast: number; outcomes: ReadonlySet<string> } | null;
  /** Every level holds only at the message that carries it (an event, a change): cleared by a person unless `clear` says. */
  momentary: boolean;
}

function leaves(c: Condition, out: Condition[] = []): Condition[] {
  if ("all" in c) for (const x of c.all) leaves(x, out);
  else if ("any" in c) for (const x of c.any) leaves(x, out);
  else out.push(c);
  return out;
}

/** True when the condition can hold only at the input that carries an event or a change. */
export function isMomentary(c: Condition): boolean {
  if ("all" in c) return c.all.some(isMomentary);
  if ("any" in c) return c.any.every(isMomentary);
  return "event" in c || "changed" in c;
}

export function compileRule(definition: RuleDefinition): CompiledRule {
  const all = [...definition.levels.map((l) => l.when), ...(definition.clear ? [definition.clear.when] : [])].flatMap((c) => leaves(c));
  const counted = all.flatMap((c) => ("commands" in c ? [c.commands] : []));
  return {
    definition,
    properties: new Set(all.flatMap((c) => ("property" in c ? [c.property] : []))),
    events: new Set(all.flatMap((c) => ("event" in c ? [c.event] : []))),
    silence: all.some((c) => "silentForMs" in c),
    presence: all.some((c) => "offlineForMs" in c),
    commands: counted.length
      ? {
          withinMs: Math.max(...counted.map((c) => c.withinMs)),
          atLeast: Math.max(...counted.map((c) => c.atLeast)),
          outcomes: new Set(counted.flatMap((c) => c.outcomes)),
        }
      : null,
    momentary: definition.levels.every((l) => isMomentary(l.when)),
  };
}

/** Whether an input can change anything for this rule; the tick always can. */
export function reads(rule: CompiledRule, input: Input): boolean {
  switch (input.kind) {
    case "property":
      return rule.silence || Object.keys(input.data).some((k) => rule.properties.has(k));
    case "event":
      return rule.silence || rule.events.has(input.name);
    case "presence":
      return rule.presence;
    case "command":
      return rule.commands?.outcomes.has(input.status) ?? false;
    case "tick":
      return true;
  }
}

export const newFacts = (t: number): Facts => ({ props: {}, since: t });

/** Folds the input into the facts; a value older than the one held is ignored (device time decides). */
function remember(rule: CompiledRule, facts: Facts, input: Input): Facts {
  const next: Facts = { ...facts, props: { ...facts.props } };
  if (input.kind === "property" || input.kind === "event") next.lastReport = Math.max(next.lastReport ?? input.ts, input.ts);
  if (input.kind === "property") {
    for (const [name, v] of Object.entries(input.data)) {
      if (!rule.properties.has(name)) continue;
      const held = next.props[name];
      if (held && held.ts >= input.ts) continue;
      next.props[name] = held ? { v, ts: input.ts, prev: held.v } : { v, ts: input.ts };
    }
  } else if (input.kind === "presence") {
    if (next.presenceTs === undefined || input.ts >= next.presenceTs) {
      next.presenceTs = input.ts;
      // A second offline (a last will, then the silence sweep) does not restart the duration.
      next.offlineSince = input.online ? null : typeof next.offlineSince === "number" ? next.offlineSince : input.ts;
    }
  } else if (input.kind === "command" && rule.commands?.outcomes.has(input.status)) {
    const held = next.outcomes ?? [];
    // A command reaches a final status once: the same one again is a redelivery.
    const again = held.some((o) => o.status === input.status && (input.command === undefined ? o.ts === input.ts : o.command === input.command));
    if (!again) next.outcomes = recentOutcomes([...held, { ts: input.ts, status: input.status, command: input.command }], input.ts, rule.commands);
  }
  return next;
}

/**
 * The outcomes in the window, oldest first. Bounded: a leaf holds when its atLeast-th latest outcome
 * is in the window, so beyond the latest atLeast of each status an older outcome changes no answer.
 */
function recentOutcomes(outcomes: NonNullable<Facts["outcomes"]>, t: number, { withinMs, atLeast }: { withinMs: number; atLeast: number }) {
  const perStatus = new Map<string, number>();
  const kept: NonNullable<Facts["outcomes"]> = [];
  for (const o of outcomes.filter((o) => o.ts > t - withinMs).sort((a, b) => b.ts - a.ts)) {
    const n = (perStatus.get(o.status) ?? 0) + 1;
    perStatus.set(o.status, n);
    if (n <= atLeast) kept.push(o);
  }
  return kept.reverse();
}

/**
 * A value as the thing model lets a device send it in two forms (thing-model data-type.ts): a bool as
 * true/false or 0/1, a date as ms or a digit string. Read as the number both forms mean.
 */
function numeric(v: unknown): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "string" && /^[0-9]{1,16}$/.test(v) ? Number(v) : v;
}

function compare(rawActual: unknown, op: Op, rawExpected: unknown): boolean {
  // Text stays text: "007" is not "7"; only a number or a bool on the other side makes a value numeric.
  const mixed = typeof rawActual !== typeof rawExpected && [rawActual, rawExpected].some((v) => typeof v === "number" || typeof v === "boolean");
  const actual = mixed ? numeric(rawActual) : rawActual;
  const expected = mixed ? numeric(rawExpected) : rawExpected;
  if (typeof actual === "number" && typeof expected === "number") {
    switch (op) {
      case "lt":
        return actual < expected;
      case "lte":
        return actual <= expected;
      case "gt":
        return actual > expected;
      case "gte":
        return actual >= expected;
      case "eq":
        return actual === expected;
      case "ne":
        return actual !== expected;
    }
  }
  if (op === "eq") return actual === expected;
  if (op === "ne") return actual !== undefined && actual !== expected;
  return false;
}

/** Values at a dotted path; `any` as a segment fans out over a list's items. */
function valuesAt(data: unknown, path: string[]): unknown[] {
  if (path.length === 0) return [data];
  const [head, ...rest] = path;
  if (head === "any") return Array.isArray(data) ? data.flatMap((item) => valuesAt(item, rest)) : [];
  if (data === null || typeof data !== "object" || !Object.hasOwn(data, head!)) return [];
  return valuesAt((data as Record<string, unknown>)[head!], rest);
}

function holds(c: Condition, facts: Facts, input: Input, t: number): boolean {
  if ("all" in c) return c.all.every((x) => holds(x, facts, input, t));
  if ("any" in c) return c.any.some((x) => holds(x, facts, input, t));
  if ("event" in c) {
    if (input.kind !== "event" || input.name !== c.event) return false;
    return (c.where ?? []).every((m) => valuesAt(input.data, m.path.split(".")).some((v) => compare(v, m.op as Op, m.value)));
  }
  if ("silentForMs" in c) return t - (facts.lastReport ?? facts.since) >= c.silentForMs;
  if ("offlineForMs" in c) return typeof facts.offlineSince === "number" && t - facts.offlineSince >= c.offlineForMs;
  if ("commands" in c) {
    const { outcomes, atLeast, withinMs } = c.commands;
    return (facts.outcomes ?? []).filter((o) => o.ts > t - withinMs && o.ts <= t && (outcomes as string[]).includes(o.status)).length >= atLeast;
  }
  const held = facts.props[c.property];
  if (!held) return false;
  const member = c.path?.split(".");
  const at = (v: unknown) => (member ? valuesAt(v, member)[0] : v);
  const value = at(held.v);
  if ("changed" in c) return input.kind === "property" && held.ts === input.ts && "prev" in held && !Bun.deepEquals(at(held.prev), value);
  if ("inside" in c) return compare(value, "gte", c.inside[0]) && compare(value, "lte", c.inside[1]);
  if ("outside" in c) return compare(value, "lt", c.outside[0]) || compare(value, "gt", c.outside[1]);
  return compare(value, c.op as Op, c.value);
}

/** Future times at which a time-based leaf could start to hold or stop holding. */
function wakeups(c: Condition, facts: Facts, t: number): number[] {
  return leaves(c)
    .flatMap((leaf) => {
      if ("silentForMs" in leaf) return [(facts.lastReport ?? facts.since) + leaf.silentForMs];
      if ("offlineForMs" in leaf) return typeof facts.offlineSince === "number" ? [facts.offlineSince + leaf.offlineForMs] : [];
      if ("commands" in leaf) return (facts.outcomes ?? []).map((o) => o.ts + leaf.commands.withinMs);
      return [];
    })
    .filter((at) => at > t);
}

/** The values that made the rule decide, for the alarm's details. */
function evidence(rule: CompiledRule, facts: Facts, input: Input, t: number): Record<string, unknown> {
  const values = Object.fromEntries([...rule.properties].filter((p) => facts.props[p]).map((p) => [p, facts.props[p]!.v]));
  return {
    at: t,
    ...(Object.keys(values).length ? { values } : {}),
    ...(input.kind === "event" ? { event: { name: input.name, data: input.data } } : {}),
    ...(rule.silence && facts.lastReport !== undefined ? { lastReport: facts.lastReport } : {}),
    ...(rule.presence && typeof facts.offlineSince === "number" ? { offlineSince: facts.offlineSince } : {}),
    ...(rule.commands ? { outcomes: (facts.outcomes ?? []).length } : {}),
  };
}

/**
 * One step of a rule for one device: fold the input into the facts, see which levels hold and for
 * how long, and decide what happens to the alarm (`active`: its severity now, or null). Pure: the
 * caller stores facts and timers with the alarm in one transaction.
 */
export function step(rule: CompiledRule, facts: Facts, timers: Timers, active: Severity | null, input: Input): Step {
  // The rule's clock never runs back: a late message is evaluated at the latest time seen.
  const t = Math.max(timers.t ?? input.ts, input.ts);
  const next = remember(rule, facts, input);
  const levels: Timers["levels"] = {};
  // The most severe level whose condition holds now, and the most severe that has held for its duration.
  let holding: Severity | null = null;
  let reached: Severity | null = null;
  const due: number[] = [];
  const worse = (a: Severity | null, b: Severity) => (a === null || severityRank(b) > severityRank(a) ? b : a);
  for (const level of rule.definition.levels) {
    if (!holds(level.when, next, input, t)) continue;
    holding = worse(holding, level.severity);
    const since = isMomentary(level.when) ? t : (timers.levels[level.severity] ?? t);
    levels[level.severity] = since;
    const needs = level.forMs ?? 0;
    if (t - since >= needs) reached = worse(reached, level.severity);
    else due.push(since + needs);
  }
  for (const level of rule.definition.levels) due.push(...wakeups(level.when, next, t));
  const nextTimers: Timers = { levels, t };
  let action: Action | null = null;
  const details = () => evidence(rule, next, input, t);
  if (active === null) {
    if (reached !== null) action = { type: "raise", severity: reached, details: details() };
  } else if (reached !== null && severityRank(reached) > severityRank(active)) {
    action = { type: "escalate", severity: reached, details: details() };
  } else if (holding !== null) {
    // An improvement downgrades at once; only a raise or an escalation waits for its duration.
    if (severityRank(holding) < severityRank(active)) action = { type: "downgrade", severity: holding, details: details() };
    else if (input.kind !== "tick") action = { type: "occur", severity: active, details: details() };
  } else {
    const clear = rule.definition.clear;
    if (clear) {
      if (holds(clear.when, next, input, t)) {
        const since = timers.clear ?? t;
        nextTimers.clear = since;
        if (t - since >= (clear.forMs ?? 0)) action = { type: "clear", details: details() };
        else due.push(since + (clear.forMs ?? 0));
      }
      due.push(...wakeups(clear.when, next, t));
    } else if (!rule.momentary) action = { type: "clear", details: details() };
  }
  if (action?.type === "clear") delete nextTimers.clear;
  const future = due.filter((at) => at > t);
  return { facts: next, timers: nextTimers, dueAt: future.length ? Math.min(...future) : null, action };
}

/** The most severe first, as lists and the console show them. */
export const bySeverity = (a: Severity, b: Severity) => severityRank(b) - severityRank(a);
export { SEVERITIES };
