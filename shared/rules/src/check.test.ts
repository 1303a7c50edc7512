import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { validateDefinition } from "@umos/thing-model";
import { checkRuleAgainstModel, parseRule } from "./check";

/** The InvalidInputError a call throws, or a failure naming what it returned. */
function refusal(call: () => unknown): InvalidInputError {
  try {
    call();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe("invalid_rule");
    return err as InvalidInputError;
  }
  throw new Error("expected the rule to be refused");
}

const threshold = (when: unknown) => ({ levels: [{ severity: "warning", when }] });

describe("parseRule", () => {
  test("returns a well-formed rule as it was given", () => {
    const rule = {
      levels: [
        { severity: "warning", when: { property: "battery", op: "lt", value: 30 }, forMs: 60_000 },
        { severity: "critical", when: { any: [{ property: "battery", op: "lt", value: 10 }, { offlineForMs: 0 }] } },
      ],
      clear: { when: { property: "battery", op: "gt", value: 35 }, forMs: 0 },
    };
    expect<unknown>(parseRule(rule)).toEqual(rule);
  });

  test("a malformed rule is refused naming the field", () => {
    expect(refusal(() => parseRule({ levels: [] })).message).toStartWith("/levels: ");
    expect(refusal(() => parseRule({ levels: [{ severity: "fatal", when: { offlineForMs: 0 } }] })).message).toStartWith("/levels/0/severity: ");
    expect(refusal(() => parseRule(threshold({ property: "battery", op: "below", value: 3 }))).message).toStartWith("/levels/0/when");
    expect(refusal(() => parseRule({ ...threshold({ offlineForMs: 0 }), extra: 1 })).details).toEqual({ path: "/extra" });
  });

  test("two levels with the same severity are refused at the second", () => {
    const err = refusal(() =>
      parseRule({
        levels: [
          { severity: "major", when: { property: "battery", op: "lt", value: 20 } },
          { severity: "major", when: { property: "battery", op: "lt", value: 10 } },
        ],
      }),
    );
    expect(err.message).toStartWith("/levels/1/severity: ");
    expect(err.details).toEqual({ path: "/levels/1/severity" });
  });

  test("a duration on a momentary level (an event or a change) is refused", () => {
    expect(refusal(() => parseRule({ levels: [{ severity: "major", when: { event: "hms" }, forMs: 1000 }] })).message).toStartWith("/levels/0/forMs: ");
    const both = {
      all: [
        { property: "mode", changed: true },
        { property: "battery", op: "lt", value: 5 },
      ],
    };
    expect(
      refusal(() =>
        parseRule({
          levels: [
            { severity: "minor", when: { offlineForMs: 0 } },
            { severity: "major", when: both, forMs: 5 },
          ],
        }),
      ).message,
    ).toStartWith("/levels/1/forMs: ");
  });

  test("an event path with an empty segment is refused: it could match nothing", () => {
    for (const path of ["list..level", ".level", "list.", "."]) {
      expect(refusal(() => parseRule(threshold({ event: "hms", where: [{ path, op: "eq", value: 1 }] }))).message).toStartWith("/levels/0/when");
    }
    expect(parseRule(threshold({ event: "hms", where: [{ path: "list.any.level", op: "gte", value: 1 }] }))).toBeDefined();
  });

  test("conditions nest at most 4 deep", () => {
    const nest = (depth: number): unknown => (depth === 0 ? { offlineForMs: 0 } : { any: [nest(depth - 1)] });
    expect(parseRule(threshold(nest(4)))).toBeDefined();
    const err = refusal(() => parseRule({ levels: [{ severity: "warning", when: { offlineForMs: 0 } }], clear: { when: nest(5) } }));
    expect(err.message).toStartWith("/clear/when/any/0/any/0/any/0/any/0: ");
    // Far deeper than any rule needs is refused the same way, not by running out of stack.
    expect(refusal(() => parseRule(threshold(nest(5000)))).message).toStartWith("/levels/0/when/any/0/any/0/any/0/any/0: ");
  });
});

describe("checkRuleAgainstModel", () => {
  const model = validateDefinition({
    properties: [
      { identifier: "battery", accessMode: "r", dataType: { type: "int", specs: { min: 0, max: 100, unit: "%" } } },
      { identifier: "temperature", accessMode: "r", dataType: { type: "float" } },
      { identifier: "label", accessMode: "rw", dataType: { type: "text", specs: { size: 32 } } },
      { identifier: "mode", accessMode: "rw", dataType: { type: "enum", specs: { "0": "off", "1": "heat", "2": "cool" } } },
      { identifier: "fan", accessMode: "rw", dataType: { type: "enum", specs: { auto: "auto", low: "low" } } },
      { identifier: "door", accessMode: "r", dataType: { type: "bool", specs: { "0": "closed", "1": "open" } } },
      { identifier: "position", accessMode: "r", dataType: { type: "struct", specs: [{ identifier: "lat", dataType: { type: "double" } }] } },
    ],
    events: [{ identifier: "hms", type: "alert", outputData: [] }],
  });
  const check = (rule: unknown) => checkRuleAgainstModel(parseRule(rule), model, "dock@2");
  const refused = (when: unknown) => refusal(() => check(threshold(when))).message;

  test("a path names a struct property's member, checked like a property of its own type", () => {
    expect(() => check(threshold({ property: "position", path: "lat", outside: [-90, 90] }))).not.toThrow();
    expect(refused({ property: "position", path: "lon", op: "lt", value: 1 })).toStartWith("/levels/0/when/path: 'position' has no member 'lon'");
    expect(refused({ property: "battery", path: "level", op: "lt", value: 1 })).toContain("it is int, not a struct");
    expect(refused({ property: "position", path: "lat", op: "eq", value: "north" })).toStartWith("/levels/0/when/value: ");
  });

  test("a rule that fits the model passes", () => {
    expect(() =>
      check({
        levels: [
          {
            severity: "warning",
            when: {
              all: [
                { property: "battery", op: "lt", value: 30 },
                { property: "mode", op: "eq", value: 1 },
              ],
            },
          },
          {
            severity: "major",
            when: {
              any: [
                { property: "temperature", outside: [-10, 60] },
                { event: "hms", where: [{ path: "list.any.level", op: "gte", value: 1 }] },
              ],
            },
          },
          {
            severity: "critical",
            when: {
              all: [
                { property: "door", op: "eq", value: true },
                { property: "fan", op: "ne", value: "auto" },
              ],
            },
          },
        ],
        clear: {
          when: {
            all: [
              { property: "label", op: "eq", value: "ok" },
              { property: "position", changed: true },
            ],
          },
        },
      }),
    ).not.toThrow();
  });

  test("an unknown property or event is refused naming it", () => {
    expect(refused({ property: "humidity", op: "lt", value: 3 })).toBe("/levels/0/when/property: thing model dock@2 has no property 'humidity'");
    expect(refused({ event: "overheat" })).toBe("/levels/0/when/event: thing model dock@2 has no event 'overheat'");
    expect(
      refusal(() => check({ ...threshold({ offlineForMs: 0 }), clear: { when: { any: [{ silentForMs: 1000 }, { property: "nope", changed: true }] } } }))
        .message,
    ).toStartWith("/clear/when/any/1/property: ");
  });

  test("a threshold of the wrong type is refused at its value", () => {
    expect(refused({ property: "battery", op: "lt", value: "20" })).toBe("/levels/0/when/value: 'battery' is int: the threshold must be a number");
    expect(refused({ property: "label", op: "gt", value: "m" })).toBe("/levels/0/when/value: 'label' is text: gt needs a number; use eq or ne");
    expect(refused({ property: "label", op: "eq", value: 3 })).toStartWith("/levels/0/when/value: ");
    expect(refused({ property: "door", op: "eq", value: "open" })).toStartWith("/levels/0/when/value: ");
    expect(refused({ property: "position", op: "eq", value: 1 })).toBe("/levels/0/when/value: 'position' is struct: a struct cannot be compared; use changed");
  });

  test("an enum value not in the specs is refused; a numbered enum takes the number the device sends", () => {
    expect(refused({ property: "mode", op: "eq", value: 7 })).toBe("/levels/0/when/value: 'mode' is enum: the value must be one of 0, 1, 2");
    expect(refused({ property: "mode", op: "eq", value: "1" })).toBe("/levels/0/when/value: 'mode' is enum: the value must be one of 0, 1, 2");
    expect(refused({ property: "fan", op: "eq", value: "high" })).toBe("/levels/0/when/value: 'fan' is enum: the value must be one of auto, low");
  });

  test("a range is refused when its low end is above its high end or its property is not a number", () => {
    expect(refused({ property: "battery", inside: [50, 10] })).toBe("/levels/0/when/inside: the range's low end is above its high end");
    expect(refused({ all: [{ offlineForMs: 0 }, { property: "temperature", outside: [5, -5] }] })).toStartWith("/levels/0/when/all/1/outside: ");
    expect(refused({ property: "label", inside: [1, 2] })).toBe("/levels/0/when/property: 'label' is text: a range needs a number");
  });
});
