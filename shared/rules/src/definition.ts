import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

/** Alarm severities, least severe first: a rule escalates up this list and downgrades down it. */
export const SEVERITIES = ["warning", "minor", "major", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SeveritySchema = T.Union(SEVERITIES.map((s) => T.Literal(s)));
export const severityRank = (s: Severity) => SEVERITIES.indexOf(s);

/** The command outcomes a rule can count. */
export const COUNTED_OUTCOMES = ["failed", "timeout", "expired"] as const;

const Name = T.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,63}$", description: "a property or event identifier of the thing model" });
const Scalar = T.Union([T.Number(), T.String({ maxLength: 256 }), T.Boolean()]);
const Op = T.Union(["lt", "lte", "gt", "gte", "eq", "ne"].map((o) => T.Literal(o)));
export type Op = "lt" | "lte" | "gt" | "gte" | "eq" | "ne";
/** Up to a week: a longer duration is a schedule, not an alarm condition. */
const Duration = T.Integer({ minimum: 0, maximum: 604_800_000, description: "milliseconds" });
const Range = T.Tuple([T.Number(), T.Number()]);

const DataMatch = T.Object(
  {
    /**
     * A dotted path into the event's data: `level`, `list.0.level` (an item by position), or `list.any.level`
     * (a segment `any` fans out over a list's items: the match holds when one item's value does).
     */
    path: T.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$" }),
    op: Op,
    value: Scalar,
  },
  { additionalProperties: false },
);

/** A member of a struct property, dotted (DJI's `battery` -> `capacity_percent`); the property's own value without it. */
const Member = T.Optional(
  T.String({
    minLength: 1,
    maxLength: 256,
    pattern: "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$",
    description: "a member of a struct property, dotted",
  }),
);

const leafConditions = [
  T.Object({ property: Name, path: Member, op: Op, value: Scalar }, { additionalProperties: false, title: "compare" }),
  T.Object({ property: Name, path: Member, inside: Range }, { additionalProperties: false, title: "inside" }),
  T.Object({ property: Name, path: Member, outside: Range }, { additionalProperties: false, title: "outside" }),
  T.Object({ property: Name, path: Member, changed: T.Literal(true) }, { additionalProperties: false, title: "changed" }),
  T.Object({ event: Name, where: T.Optional(T.Array(DataMatch, { maxItems: 16 })) }, { additionalProperties: false, title: "event" }),
  T.Object({ silentForMs: T.Integer({ minimum: 1000, maximum: 604_800_000 }) }, { additionalProperties: false, title: "silence" }),
  T.Object({ offlineForMs: T.Integer({ minimum: 0, maximum: 604_800_000 }) }, { additionalProperties: false, title: "offline" }),
  T.Object(
    {
      commands: T.Object(
        {
          outcomes: T.Array(T.Union(COUNTED_OUTCOMES.map((o) => T.Literal(o))), { minItems: 1, maxItems: 3, uniqueItems: true }),
          atLeast: T.Integer({ minimum: 1, maximum: 100 }),
          withinMs: T.Integer({ minimum: 1000, maximum: 604_800_000 }),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, title: "commands" },
  ),
];

/** Combinators nest at most this deep (parseRule checks it): deeper is no clearer, only slower. */
export const MAX_NESTING = 4;

/** A condition: a leaf, or `all` / `any` of conditions (nested up to MAX_NESTING deep, 16 each). */
export const ConditionSchema = T.Recursive(
  (Self) =>
    T.Union([
      ...leafConditions,
      T.Object({ all: T.Array(Self, { minItems: 1, maxItems: 16 }) }, { additionalProperties: false, title: "all" }),
      T.Object({ any: T.Array(Self, { minItems: 1, maxItems: 16 }) }, { additionalProperties: false, title: "any" }),
    ]),
  { $id: "Condition" },
);
export type Condition = Static<typeof ConditionSchema>;

const Level = T.Object(
  {
    severity: SeveritySchema,
    when: ConditionSchema,
    /** How long `when` must hold before the alarm is raised at this severity. */
    forMs: T.Optional(Duration),
  },
  { additionalProperties: false },
);

/**
 * A rule (docs/alarms.md): one to four severity levels, each raised when its condition has held for its
 * duration, the most severe that holds winning (escalation and downgrade); and an optional clear
 * condition. Without one the alarm clears as soon as no level holds, except for a rule whose levels
 * are momentary (an event or a change), which is cleared by a person.
 */
export const RuleDefinitionSchema = T.Object(
  {
    levels: T.Array(Level, { minItems: 1, maxItems: 4 }),
    clear: T.Optional(T.Object({ when: ConditionSchema, forMs: T.Optional(Duration) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type RuleDefinition = Static<typeof RuleDefinitionSchema>;
export type Level = RuleDefinition["levels"][number];

/** Schemas of conditions, for the API's document. */
export const ruleSchemas: TSchema[] = [ConditionSchema, RuleDefinitionSchema];
