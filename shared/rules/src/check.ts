import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { InvalidInputError } from "@umos/core";
import type { DataType, Definition } from "@umos/thing-model";
import { type Condition, MAX_NESTING, type RuleDefinition, RuleDefinitionSchema } from "./definition";
import { isMomentary } from "./evaluate";

const checker = TypeCompiler.Compile(RuleDefinitionSchema);
const NUMERIC = new Set(["int", "float", "double", "date"]);

/** The definition's shape, or InvalidInputError naming the first bad field. */
export function parseRule(input: unknown): RuleDefinition {
  const deep = tooDeep(input);
  if (deep) throw invalid(deep, `all and any nest at most ${MAX_NESTING} deep`);
  const raw = Value.Clone(input);
  if (!checker.Check(raw)) {
    const first = checker.Errors(raw).First();
    throw invalid(first?.path || "/", first?.message ?? "invalid");
  }
  const severities = new Set<string>();
  raw.levels.forEach((level, i) => {
    if (severities.has(level.severity)) throw invalid(`/levels/${i}/severity`, `severity '${level.severity}' has two levels`);
    severities.add(level.severity);
    if (level.forMs && isMomentary(level.when))
      throw invalid(`/levels/${i}/forMs`, "an event or a change holds only at the message that carries it: it cannot hold for a duration");
  });
  return raw;
}

/**
 * The path of the first `all` / `any` nested deeper than MAX_NESTING, or null. Looked for first: the
 * clone and the schema check recurse once a level and run out of stack on a deep enough nest.
 */
function tooDeep(input: unknown): string | null {
  const visit = (c: unknown, path: string, depth: number): string | null => {
    if (!c || typeof c !== "object") return null;
    for (const key of ["all", "any"]) {
      const list = (c as Record<string, unknown>)[key];
      if (!Array.isArray(list)) continue;
      if (depth === MAX_NESTING) return path;
      for (const [i, x] of list.entries()) {
        const found = visit(x, `${path}/${key}/${i}`, depth + 1);
        if (found) return found;
      }
    }
    return null;
  };
  if (!input || typeof input !== "object") return null;
  const { levels, clear } = input as { levels?: unknown; clear?: { when?: unknown } };
  const whens: [unknown, string][] = [
    ...(Array.isArray(levels) ? levels.map((l, i): [unknown, string] => [(l as { when?: unknown } | null)?.when, `/levels/${i}/when`]) : []),
    [clear?.when, "/clear/when"],
  ];
  for (const [when, path] of whens) {
    const found = visit(when, path, 0);
    if (found) return found;
  }
  return null;
}

/**
 * Checks a rule against the thing model it applies to (docs/alarms.md): every property and event
 * it names must exist, and every threshold must fit the property's type. Throws InvalidInputError
 * whose message starts with the field's path.
 */
export function checkRuleAgainstModel(rule: RuleDefinition, model: Definition, modelRef: string): void {
  const properties = new Map(model.properties.map((p) => [p.identifier, p.dataType]));
  const events = new Set(model.events.map((e) => e.identifier));
  const visit = (c: Condition, path: string): void => {
    if ("all" in c || "any" in c) {
      const [key, list] = "all" in c ? ["all", c.all] : ["any", c.any];
      for (const [i, x] of list.entries()) visit(x, `${path}/${key}/${i}`);
      return;
    }
    if ("event" in c) {
      if (!events.has(c.event)) throw invalid(`${path}/event`, `thing model ${modelRef} has no event '${c.event}'`);
      return;
    }
    if (!("property" in c)) return;
    const own = properties.get(c.property);
    if (!own) throw invalid(`${path}/property`, `thing model ${modelRef} has no property '${c.property}'`);
    const type = c.path ? memberType(own, c.path, `${path}/path`, c.property) : own;
    if ("changed" in c) return;
    if ("inside" in c || "outside" in c) {
      if (!NUMERIC.has(type.type)) throw invalid(`${path}/property`, `'${c.property}' is ${type.type}: a range needs a number`);
      const [low, high] = "inside" in c ? c.inside : c.outside;
      if (low > high) throw invalid(`${path}/${"inside" in c ? "inside" : "outside"}`, "the range's low end is above its high end");
      return;
    }
    const problem = thresholdProblem(type, c.op, c.value);
    if (problem) throw invalid(`${path}/value`, `'${c.property}' is ${type.type}: ${problem}`);
  };
  for (const [i, level] of rule.levels.entries()) visit(level.when, `/levels/${i}/when`);
  if (rule.clear) visit(rule.clear.when, "/clear/when");
}

/** The type of a struct property's member, following a dotted path through nested structs. */
function memberType(type: DataType, member: string, path: string, property: string): DataType {
  let current = type;
  for (const name of member.split(".")) {
    const members = current.type === "struct" && Array.isArray(current.specs) ? (current.specs as { identifier?: unknown; dataType?: DataType }[]) : [];
    const found = members.find((m) => m.identifier === name)?.dataType;
    if (!found) throw invalid(path, `'${property}' has no member '${member}'${current.type === "struct" ? "" : `: it is ${current.type}, not a struct`}`);
    current = found;
  }
  return current;
}

function thresholdProblem(type: DataType, op: string, value: unknown): string | null {
  const ordering = op !== "eq" && op !== "ne";
  if (NUMERIC.has(type.type)) return typeof value === "number" ? null : "the threshold must be a number";
  if (ordering) return `${op} needs a number; use eq or ne`;
  if (type.type === "bool") return typeof value === "boolean" || value === 0 || value === 1 ? null : "the value must be true or false";
  if (type.type === "text") return typeof value === "string" ? null : "the value must be text";
  if (type.type === "enum") {
    const labels = type.specs && typeof type.specs === "object" ? Object.keys(type.specs) : [];
    // A device sends a numbered enum's value as the number (thing-model data-type.ts), which "1" never equals.
    const numbered = labels.every((l) => /^-?[0-9]+$/.test(l));
    const fits = numbered ? typeof value === "number" && labels.includes(String(value)) : typeof value === "string" && labels.includes(value);
    return fits ? null : `the value must be one of ${labels.join(", ")}`;
  }
  return `a ${type.type} cannot be compared; use changed`;
}

const invalid = (path: string, message: string) => new InvalidInputError("invalid_rule", `${path}: ${message}`, { path });
