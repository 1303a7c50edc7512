import { VENDORS } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";

/**
 * The device query language (docs/fleet.md): what `GET /api/v1/devices?q=` and dynamic groups take,
 * e.g. `vendor = dji and online and state.firmware_version < "10.1.8"`. This file only parses and
 * type-checks; device-filter.ts turns the tree into parameterised SQL, so nothing a caller writes
 * ever becomes SQL text.
 *
 *   query      = or
 *   or         = and { "or" and }
 *   and        = unary { "and" unary }
 *   unary      = "not" unary | "(" or ")" | condition
 *   condition  = field [ op value | "in" "(" value { "," value } ")" ] | string
 *   op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | "~"
 *   value      = string | number | "true" | "false" | "null" | duration "ago" | timestamp string
 *
 * A field alone is `field = true` (`online`); a string alone matches ids and names containing it.
 */

export const MAX_QUERY_LENGTH = 2000;
/** Conditions in one query, after the groups it names are expanded. */
export const MAX_CONDITIONS = 64;
export const MAX_DEPTH = 16;
export const MAX_IN_VALUES = 1000;
export const MAX_PATH = 8;

export type Op = "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "in";

export type Literal = string | number | boolean | null | { agoMs: number } | Date;

export type FieldName = "id" | "name" | "vendor" | "model" | "model_version" | "online" | "gateway" | "last_seen" | "created" | "tag" | "group";

export type Field = { name: FieldName } | { name: "metadata" | "state"; path: string[] };

export type QueryNode =
  | { and: QueryNode[] }
  | { or: QueryNode[] }
  | { not: QueryNode }
  | { field: Field; op: Exclude<Op, "in">; value: Literal }
  | { field: Field; op: "in"; values: Literal[] }
  /** A bare string: ids and names that contain it. */
  | { text: string };

type Kind = "text" | "enum" | "number" | "boolean" | "time" | "json";

/** Each field's kind decides the operators and literals it takes; `nullable`: `= null` asks for its absence. */
const FIELDS: Record<FieldName, { kind: Kind; nullable?: boolean }> = {
  id: { kind: "text" },
  name: { kind: "text" },
  vendor: { kind: "enum" },
  model: { kind: "text", nullable: true },
  model_version: { kind: "number", nullable: true },
  online: { kind: "boolean" },
  gateway: { kind: "text", nullable: true },
  last_seen: { kind: "time", nullable: true },
  created: { kind: "time" },
  tag: { kind: "text" },
  group: { kind: "text" },
};

const OPS_BY_KIND: Record<Kind, readonly Op[]> = {
  text: ["=", "!=", "in", "~"],
  enum: ["=", "!=", "in"],
  number: ["=", "!=", "<", "<=", ">", ">=", "in"],
  boolean: ["=", "!="],
  time: ["=", "!=", "<", "<=", ">", ">="],
  json: ["=", "!=", "<", "<=", ">", ">=", "in", "~"],
};

const NO_CONTAINS_FIELDS = new Set<FieldName>(["tag", "group", "model", "gateway"]);
const PATH_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

type Token =
  | { type: "word"; text: string; at: number }
  | { type: "string"; value: string; at: number }
  | { type: "number"; value: number; at: number }
  | { type: "duration"; ms: number; at: number }
  | { type: "op"; op: string; at: number }
  | { type: "end"; at: number };

/** Parses and checks a query; an error says where (1-based column) and what was expected. */
export function parseDeviceQuery(query: string): QueryNode {
  if (query.length > MAX_QUERY_LENGTH) throw queryError(`the query is ${query.length} characters; at most ${MAX_QUERY_LENGTH}`);
  const parser = new Parser(tokenize(query));
  const node = parser.query();
  if (conditionCount(node) > MAX_CONDITIONS) throw queryError(`the query has more than ${MAX_CONDITIONS} conditions`);
  return node;
}

/** Conditions in a tree, counted as a bound on the SQL it becomes. */
export function conditionCount(node: QueryNode): number {
  if ("and" in node) return node.and.reduce((n, c) => n + conditionCount(c), 0);
  if ("or" in node) return node.or.reduce((n, c) => n + conditionCount(c), 0);
  if ("not" in node) return conditionCount(node.not);
  return 1;
}

/** The groups a query names (`group = "x"`), for expansion and so a named group is not deleted. */
export function groupsNamed(node: QueryNode): string[] {
  const out = new Set<string>();
  const walk = (n: QueryNode) => {
    if ("and" in n) n.and.forEach(walk);
    else if ("or" in n) n.or.forEach(walk);
    else if ("not" in n) walk(n.not);
    else if ("field" in n && n.field.name === "group") for (const v of "values" in n ? n.values : [n.value]) out.add(v as string);
  };
  walk(node);
  return [...out];
}

export function queryError(message: string, column?: number): InvalidInputError {
  return new InvalidInputError("invalid_query", column === undefined ? message : `at column ${column}: ${message}`);
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const at = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) throw queryError("the string is not closed", at);
        const ch = source[i]!;
        if (ch === "\\") {
          const next = source[i + 1];
          if (next !== "\\" && next !== '"' && next !== "'") throw queryError("only \\\\, \\\" and \\' are escapes in a string", i + 1);
          value += next;
          i += 2;
        } else if (ch === c) {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      tokens.push({ type: "string", value, at });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?(?:[0-9]+(?:\.[0-9]+)?)(?:[eE][+-]?[0-9]+)?(ms|s|m|h|d)?(?![A-Za-z0-9_.])/.exec(source.slice(i));
      if (!m) throw queryError(`'${source.slice(i, i + 12)}' is not a number or a duration (15m, 2h, 7d)`, at);
      if (m[1]) {
        const amount = Number(m[0].slice(0, -m[1].length));
        if (amount < 0) throw queryError("a duration is not negative", at);
        tokens.push({ type: "duration", ms: amount * DURATION_MS[m[1]]!, at });
      } else {
        const value = Number(m[0]);
        if (!Number.isFinite(value)) throw queryError(`${m[0]} is not a finite number`, at);
        tokens.push({ type: "number", value, at });
      }
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(source.slice(i))!;
      tokens.push({ type: "word", text: m[0], at });
      i += m[0].length;
    } else {
      const op = /^(!=|<=|>=|==|=|<|>|~|\(|\)|,)/.exec(source.slice(i))?.[0];
      if (!op) throw queryError(`unexpected '${c}'`, at);
      tokens.push({ type: "op", op: op === "==" ? "=" : op, at });
      i += op.length;
    }
  }
  tokens.push({ type: "end", at: source.length + 1 });
  return tokens;
}

const keyword = (t: Token, word: string) => t.type === "word" && t.text.toLowerCase() === word;
const describe = (t: Token) =>
  t.type === "end"
    ? "the end of the query"
    : t.type === "word"
      ? `'${t.text}'`
      : t.type === "op"
        ? `'${t.op}'`
        : t.type === "string"
          ? `"${t.value}"`
          : t.type === "number"
            ? String(t.value)
            : "a duration";

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  query(): QueryNode {
    if (this.peek().type === "end") throw queryError("the query is empty", 1);
    const node = this.or();
    const rest = this.peek();
    if (rest.type !== "end") throw queryError(`expected 'and', 'or' or the end, found ${describe(rest)}`, rest.at);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private take(): Token {
    return this.tokens[this.i++]!;
  }

  private or(): QueryNode {
    const parts = [this.and()];
    while (keyword(this.peek(), "or")) {
      this.take();
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0]! : { or: parts };
  }

  private and(): QueryNode {
    const parts = [this.unary()];
    while (keyword(this.peek(), "and")) {
      this.take();
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0]! : { and: parts };
  }

  private unary(): QueryNode {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) throw queryError(`nested more than ${MAX_DEPTH} deep`, t.at);
    try {
      if (keyword(t, "not")) {
        this.take();
        return { not: this.unary() };
      }
      if (t.type === "op" && t.op === "(") {
        this.take();
        const inner = this.or();
        const close = this.take();
        if (!(close.type === "op" && close.op === ")")) throw queryError(`expected ')', found ${describe(close)}`, close.at);
        return inner;
      }
      if (t.type === "string") {
        this.take();
        if (t.value.length === 0) throw queryError("the search text is empty", t.at);
        return { text: t.value };
      }
      return this.condition();
    } finally {
      this.depth--;
    }
  }

  private condition(): QueryNode {
    const t = this.take();
    if (t.type !== "word" || ["and", "or", "not", "in", "true", "false", "null", "ago"].includes(t.text.toLowerCase()))
      throw queryError(`expected a field, a quoted text or '(', found ${describe(t)}`, t.at);
    const field = parseField(t.text, t.at);
    const kind = kindOf(field);
    const next = this.peek();
    const opText = next.type === "op" && !["(", ")", ","].includes(next.op) ? next.op : keyword(next, "in") ? "in" : undefined;
    if (opText === undefined) {
      if (kind !== "boolean" && kind !== "json") throw queryError(`'${t.text}' needs an operator and a value (=, !=, <, <=, >, >=, ~, in)`, next.at);
      return { field, op: "=", value: true };
    }
    this.take();
    const op = opText as Op;
    if (!OPS_BY_KIND[kind].includes(op) || (op === "~" && NO_CONTAINS_FIELDS.has(field.name as FieldName)))
      throw queryError(`'${t.text}' does not take '${op}'`, next.at);
    if (op !== "in") return { field, op, value: this.value(field, op) };
    const open = this.take();
    if (!(open.type === "op" && open.op === "(")) throw queryError(`expected '(' after 'in', found ${describe(open)}`, open.at);
    const values = [this.value(field, "=")];
    for (;;) {
      const sep = this.take();
      if (sep.type === "op" && sep.op === ")") break;
      if (!(sep.type === "op" && sep.op === ",")) throw queryError(`expected ',' or ')', found ${describe(sep)}`, sep.at);
      values.push(this.value(field, "="));
      if (values.length > MAX_IN_VALUES) throw queryError(`'in' takes at most ${MAX_IN_VALUES} values`, sep.at);
    }
    return { field, op: "in", values };
  }

  private value(field: Field, op: Exclude<Op, "in">): Literal {
    const t = this.take();
    const kind = kindOf(field);
    const label = field.name === "metadata" || field.name === "state" ? [field.name, ...field.path].join(".") : field.name;
    const wrong = (want: string) => queryError(`${label} is compared with ${want}, not ${describe(t)}`, t.at);
    if (keyword(t, "null")) {
      const nullable = kind === "json" || FIELDS[field.name as FieldName]?.nullable;
      if (!nullable || (op !== "=" && op !== "!=")) throw queryError(`${label} ${op} null is not a comparison it takes`, t.at);
      return null;
    }
    if (op === "~") {
      if (t.type !== "string" || t.value.length === 0) throw wrong("a non-empty quoted text after '~'");
      return t.value;
    }
    switch (kind) {
      case "text":
        if (t.type !== "string") throw wrong("a quoted text");
        return t.value;
      case "enum":
        if (t.type !== "string" && t.type !== "word") throw wrong(`one of ${VENDORS.join(", ")}`);
        {
          const v = t.type === "string" ? t.value : t.text;
          if (!(VENDORS as readonly string[]).includes(v)) throw queryError(`'${v}' is not a vendor; one of ${VENDORS.join(", ")}`, t.at);
          return v;
        }
      case "number":
        if (t.type !== "number") throw wrong("a number");
        return t.value;
      case "boolean":
        if (!keyword(t, "true") && !keyword(t, "false")) throw wrong("true or false");
        return keyword(t, "true");
      case "time":
        if (t.type === "duration") {
          if (!keyword(this.take(), "ago")) throw queryError("a duration is followed by 'ago' (last_seen < 15m ago)", t.at);
          return { agoMs: t.ms };
        }
        if (t.type === "string") {
          const at = new Date(t.value);
          if (!/^\d{4}-\d{2}-\d{2}/.test(t.value) || Number.isNaN(at.getTime()))
            throw queryError(`"${t.value}" is not an ISO 8601 time (2026-12-01T00:00:00Z)`, t.at);
          return at;
        }
        throw wrong('a time ("2026-12-01T00:00:00Z") or a duration ago (15m ago)');
      case "json":
        if (t.type === "string" || t.type === "number") return t.value;
        if (keyword(t, "true") || keyword(t, "false")) {
          if (op !== "=" && op !== "!=") throw queryError(`${label} ${op} ${t.type === "word" ? t.text : ""} is not a comparison it takes`, t.at);
          return keyword(t, "true");
        }
        throw wrong("a quoted text, a number, true, false or null");
    }
  }
}

function parseField(text: string, at: number): Field {
  const [head, ...path] = text.split(".");
  const name = head!.toLowerCase();
  if (name === "metadata" || name === "state") {
    if (path.length === 0) throw queryError(`${name} needs a name after it (${name}.site)`, at);
    if (path.length > MAX_PATH) throw queryError(`${text}: at most ${MAX_PATH} names after ${name}`, at);
    const bad = path.find((p) => !PATH_SEGMENT.test(p));
    if (bad !== undefined) throw queryError(`'${bad}' in ${text} is not a name (letters, digits, _ and -)`, at);
    return { name, path };
  }
  const canonical = name === "tags" ? "tag" : name === "groups" ? "group" : name;
  if (path.length > 0 || !(canonical in FIELDS))
    throw queryError(`'${text}' is not a field; fields: ${Object.keys(FIELDS).join(", ")}, metadata.<name>, state.<property>`, at);
  return { name: canonical as FieldName };
}

function kindOf(field: Field): Kind {
  return field.name === "metadata" || field.name === "state" ? "json" : FIELDS[field.name].kind;
}
