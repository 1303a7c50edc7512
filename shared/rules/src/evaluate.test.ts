import { describe, expect, test } from "bun:test";
import { parseRule } from "./check";
import type { Severity } from "./definition";
import { compileRule, type Input, newFacts, reads, type Step, step, type Timers } from "./evaluate";

/**
 * Drives one rule for one device as iot-rules does: inputs the rule does not read are skipped, and
 * the facts, timers and the alarm's severity carry from one step to the next.
 */
function device(definition: unknown, firstSeen = 0) {
  const rule = compileRule(parseRule(definition));
  let facts = newFacts(firstSeen);
  let timers: Timers = { levels: {} };
  let active: Severity | null = null;
  return {
    rule,
    feed(input: Input): Step | null {
      if (!reads(rule, input)) return null;
      const s = step(rule, facts, timers, active, input);
      facts = s.facts;
      timers = s.timers;
      if (s.action) active = s.action.type === "clear" ? null : s.action.severity;
      return s;
    },
    /** The actions of a sequence of inputs, as "raise:warning", "clear" or "-" for none. */
    actions(inputs: Input[]): string[] {
      return inputs.map((i) => {
        const a = this.feed(i)?.action;
        return !a ? "-" : a.type === "clear" ? "clear" : `${a.type}:${a.severity}`;
      });
    },
    get active() {
      return active;
    },
    get state() {
      return { facts, timers };
    },
  };
}

const prop = (ts: number, data: Record<string, unknown>): Input => ({ kind: "property", ts, data });
const battery = (ts: number, value: number) => prop(ts, { battery: value });
const tick = (ts: number): Input => ({ kind: "tick", ts });
const event = (ts: number, name: string, data: unknown = {}): Input => ({ kind: "event", ts, name, data });
const presence = (ts: number, online: boolean): Input => ({ kind: "presence", ts, online });
const command = (ts: number, status: string, id = `cmd-${ts}`): Input => ({ kind: "command", ts, status, command: id });

const lowBattery = { levels: [{ severity: "warning", when: { property: "battery", op: "lt", value: 20 }, forMs: 60_000 }] };

describe("a threshold held for a duration", () => {
  test("raises only once the condition has held forMs by the inputs' timestamps, and dueAt points at that moment", () => {
    const d = device(lowBattery);
    expect(d.feed(battery(0, 15))).toMatchObject({ action: null, dueAt: 60_000 });
    expect(d.feed(battery(30_000, 14))).toMatchObject({ action: null, dueAt: 60_000 });
    expect(d.feed(battery(60_000, 13))).toMatchObject({ action: { type: "raise", severity: "warning" }, dueAt: null });
  });

  test("a tick at dueAt raises a condition that still holds", () => {
    const d = device(lowBattery);
    const first = d.feed(battery(0, 15))!;
    expect(d.feed(tick(first.dueAt! - 1))!.action).toBeNull();
    expect(d.feed(tick(first.dueAt!))!.action).toMatchObject({ type: "raise", severity: "warning", details: { at: 60_000, values: { battery: 15 } } });
  });

  test("a value back above the threshold restarts the duration", () => {
    const d = device(lowBattery);
    d.feed(battery(0, 15));
    expect(d.feed(battery(30_000, 25))).toMatchObject({ action: null, dueAt: null });
    expect(d.feed(battery(40_000, 15))).toMatchObject({ action: null, dueAt: 100_000 });
    expect(d.feed(tick(60_000))!.action).toBeNull();
    expect(d.feed(tick(100_000))!.action).toMatchObject({ type: "raise" });
  });
});

describe("clearing", () => {
  const hysteresis = {
    levels: [{ severity: "warning", when: { property: "battery", op: "lt", value: 20 } }],
    clear: { when: { property: "battery", op: "gt", value: 25 } },
  };

  test("with a clear condition, values oscillating around the threshold raise once and never clear", () => {
    const d = device(hysteresis);
    expect(d.actions([battery(1, 19), battery(2, 21), battery(3, 19), battery(4, 21), battery(5, 19), battery(6, 21)])).toEqual([
      "raise:warning",
      "-",
      "occur:warning",
      "-",
      "occur:warning",
      "-",
    ]);
    expect(d.active).toBe("warning");
  });

  test("a value past the clear condition clears", () => {
    const d = device(hysteresis);
    expect(d.actions([battery(1, 19), battery(2, 21), battery(3, 26)])).toEqual(["raise:warning", "-", "clear"]);
  });

  test("clear.forMs delays the clear until the clear condition has held that long", () => {
    const d = device({ ...hysteresis, clear: { ...hysteresis.clear, forMs: 30_000 } });
    d.feed(battery(0, 19));
    expect(d.feed(battery(1_000, 26))).toMatchObject({ action: null, dueAt: 31_000 });
    // Back under the clear threshold: the clear's duration starts again.
    expect(d.feed(battery(10_000, 22))).toMatchObject({ action: null, dueAt: null });
    expect(d.feed(battery(20_000, 27))).toMatchObject({ action: null, dueAt: 50_000 });
    expect(d.feed(tick(49_999))!.action).toBeNull();
    expect(d.feed(tick(50_000))!.action).toMatchObject({ type: "clear" });
    expect(d.active).toBeNull();
  });

  test("without a clear condition a non-momentary rule clears as soon as no level's condition holds", () => {
    const d = device({ levels: [{ severity: "major", when: { property: "battery", op: "lt", value: 20 } }] });
    expect(d.actions([battery(1, 19), battery(2, 21)])).toEqual(["raise:major", "clear"]);
  });
});

describe("escalation and downgrade", () => {
  const graded = {
    levels: [
      { severity: "warning", when: { property: "battery", op: "lt", value: 30 } },
      { severity: "major", when: { property: "battery", op: "lt", value: 20 } },
      { severity: "critical", when: { property: "battery", op: "lt", value: 10 } },
    ],
  };

  test("the most severe level that holds wins: raise, escalate, then downgrade as the value improves", () => {
    const d = device(graded);
    expect(d.actions([25, 15, 5, 15, 25, 35].map((v, i) => battery(i, v)))).toEqual([
      "raise:warning",
      "escalate:major",
      "escalate:critical",
      "downgrade:major",
      "downgrade:warning",
      "clear",
    ]);
  });

  test("a first value past several levels raises straight at the most severe", () => {
    expect(device(graded).actions([battery(1, 5)])).toEqual(["raise:critical"]);
  });

  test("a message while the level holds is an occurrence; a tick is not", () => {
    const d = device(graded);
    expect(d.actions([battery(1, 25), battery(2, 24), tick(3), battery(4, 26)])).toEqual(["raise:warning", "occur:warning", "-", "occur:warning"]);
  });

  test("a more severe level with a duration escalates once it has held that long", () => {
    const d = device({
      levels: [
        { severity: "warning", when: { property: "battery", op: "lt", value: 30 } },
        { severity: "major", when: { property: "battery", op: "lt", value: 20 }, forMs: 60_000 },
      ],
    });
    expect(d.feed(battery(0, 15))).toMatchObject({ action: { type: "raise", severity: "warning" }, dueAt: 60_000 });
    expect(d.feed(tick(60_000))!.action).toMatchObject({ type: "escalate", severity: "major" });
  });
});

describe("silence", () => {
  const silent = { levels: [{ severity: "major", when: { silentForMs: 600_000 } }] };

  test("dueAt is the last report plus the duration; a tick then raises; a new report clears", () => {
    const d = device(silent);
    expect(d.feed(prop(1_000, { anything: 1 }))).toMatchObject({ action: null, dueAt: 601_000 });
    expect(d.feed(event(2_000, "door"))).toMatchObject({ action: null, dueAt: 602_000 });
    expect(d.feed(tick(601_999))!.action).toBeNull();
    expect(d.feed(tick(602_000))!.action).toMatchObject({ type: "raise", severity: "major", details: { lastReport: 2_000 } });
    expect(d.feed(prop(700_000, { anything: 2 }))).toMatchObject({ action: { type: "clear" }, dueAt: 1_300_000 });
  });

  test("a device never heard from is silent from when the rule first saw it", () => {
    const d = device(silent, 5_000);
    expect(d.feed(tick(5_000))!.dueAt).toBe(605_000);
    expect(d.feed(tick(605_000))!.action).toMatchObject({ type: "raise" });
  });
});

describe("presence", () => {
  const offline = { levels: [{ severity: "major", when: { offlineForMs: 300_000 } }] };

  test("offline for the duration raises, online clears", () => {
    const d = device(offline);
    expect(d.feed(presence(0, false))).toMatchObject({ action: null, dueAt: 300_000 });
    expect(d.feed(tick(300_000))!.action).toMatchObject({ type: "raise", details: { offlineSince: 0 } });
    expect(d.feed(presence(400_000, true))).toMatchObject({ action: { type: "clear" }, dueAt: null });
  });

  test("back online within the duration raises nothing", () => {
    const d = device(offline);
    d.feed(presence(0, false));
    expect(d.feed(presence(100_000, true))).toMatchObject({ action: null, dueAt: null });
    expect(d.feed(tick(300_000))!.action).toBeNull();
  });

  test("a second offline report does not restart the duration", () => {
    const d = device(offline);
    d.feed(presence(0, false));
    expect(d.feed(presence(100_000, false))!.dueAt).toBe(300_000);
    expect(d.feed(tick(300_000))!.action).toMatchObject({ type: "raise" });
  });
});

describe("command outcomes", () => {
  const failing = { levels: [{ severity: "minor", when: { commands: { outcomes: ["failed", "timeout"], atLeast: 3, withinMs: 60_000 } } }] };

  test("N counted outcomes within the window raise; as they age out a tick clears", () => {
    const d = device(failing);
    expect(d.actions([command(0, "failed"), command(10_000, "acked"), command(20_000, "timeout")])).toEqual(["-", "-", "-"]);
    const third = d.feed(command(30_000, "failed"))!;
    expect(third.action).toMatchObject({ type: "raise", severity: "minor" });
    expect(third.dueAt).toBe(60_000);
    expect(d.feed(tick(59_999))!.action).toBeNull();
    expect(d.feed(tick(60_000))!.action).toMatchObject({ type: "clear" });
  });

  test("outcomes further apart than the window do not add up", () => {
    const d = device(failing);
    expect(d.actions([command(0, "failed"), command(30_000, "failed"), command(60_000, "failed"), command(70_000, "failed")])).toEqual([
      "-",
      "-",
      "-",
      "raise:minor",
    ]);
  });

  test("successes between failures do not push counted failures out of the window", () => {
    const d = device(failing);
    const inputs = [command(0, "failed"), ...Array.from({ length: 10 }, (_, i) => command(1 + i, "acked")), command(20, "failed"), command(30, "timeout")];
    expect(d.actions(inputs).at(-1)).toBe("raise:minor");
  });
});

describe("event conditions", () => {
  // The item shape of DJI's hms event (shared/vendors/src/dji/fixtures/events.json).
  const hms = (ts: number, ...levels: number[]) =>
    event(ts, "hms", { list: levels.map((level, i) => ({ level, module: 3, in_the_sky: 0, code: `0x1610008${i}`, imminent: 0 })) });
  const unhealthy = { levels: [{ severity: "major", when: { event: "hms", where: [{ path: "list.any.level", op: "gte", value: 1 }] } }] };

  test("`list.any.level` matches when any item of the list matches", () => {
    const d = device(unhealthy);
    expect(d.actions([hms(1, 0), hms(2, 0, 0), hms(3, 0, 2)])).toEqual(["-", "-", "raise:major"]);
  });

  test("paths index a list by position and match nothing where the data has no such field", () => {
    const at = (path: string, value: string | number) =>
      device({ levels: [{ severity: "minor", when: { event: "hms", where: [{ path, op: "eq", value }] } }] });
    expect(at("list.1.code", "0x16100081").actions([hms(1, 0, 0)])).toEqual(["raise:minor"]);
    expect(at("list.any.code", "0x16100080").actions([hms(1, 0)])).toEqual(["raise:minor"]);
    expect(at("list.5.code", "0x16100080").actions([hms(1, 0)])).toEqual(["-"]);
    expect(at("list.any.missing", 0).actions([hms(1, 0)])).toEqual(["-"]);
    expect(at("list.level", 0).actions([hms(1, 0)])).toEqual(["-"]);
  });

  test("an event rule is momentary: it stays active, counting occurrences, until a person clears it", () => {
    const d = device(unhealthy);
    expect(d.actions([hms(1, 2), tick(1_000_000), hms(2_000_000, 0), hms(2_000_001, 1)])).toEqual(["raise:major", "-", "-", "occur:major"]);
    expect(d.active).toBe("major");
  });

  test("an event rule with a clear condition clears when it holds", () => {
    const d = device({ ...unhealthy, clear: { when: { event: "hms", where: [{ path: "list.any.level", op: "eq", value: 0 }] } } });
    expect(d.actions([hms(1, 2), hms(2, 0)])).toEqual(["raise:major", "clear"]);
  });

  test("a change of a property is momentary too, and its first value is no change", () => {
    const d = device({ levels: [{ severity: "warning", when: { property: "mode", changed: true } }] });
    expect(d.actions([prop(1, { mode: 1 }), prop(2, { mode: 1 }), prop(3, { mode: 2 }), prop(4, { mode: 2 })])).toEqual(["-", "-", "raise:warning", "-"]);
    expect(d.active).toBe("warning");
  });
});

describe("all and any", () => {
  test("all holds only when every condition holds", () => {
    const d = device({
      levels: [
        {
          severity: "major",
          when: {
            all: [
              { property: "temperature", op: "gt", value: 40 },
              { property: "humidity", op: "lt", value: 20 },
            ],
          },
        },
      ],
    });
    expect(d.actions([prop(1, { temperature: 45, humidity: 30 }), prop(2, { humidity: 10 }), prop(3, { temperature: 30 })])).toEqual([
      "-",
      "raise:major",
      "clear",
    ]);
  });

  test("any holds when one condition holds", () => {
    const d = device({
      levels: [
        {
          severity: "major",
          when: { any: [{ property: "temperature", op: "gt", value: 40 }, { property: "temperature", outside: [-10, 50] }, { offlineForMs: 0 }] },
        },
      ],
    });
    expect(
      d.actions([prop(1, { temperature: 20 }), prop(2, { temperature: 45 }), prop(3, { temperature: 20 }), presence(4, false), presence(5, true)]),
    ).toEqual(["-", "raise:major", "clear", "raise:major", "clear"]);
  });

  test("all of an event and a property holds only at the event, while the property holds", () => {
    const d = device({
      levels: [
        {
          severity: "critical",
          when: {
            all: [
              { event: "door_open", where: [] },
              { property: "armed", op: "eq", value: true },
            ],
          },
        },
      ],
    });
    expect(d.rule.momentary).toBe(true);
    expect(d.actions([prop(1, { armed: false }), event(2, "door_open"), prop(3, { armed: true }), event(4, "door_open"), tick(5)])).toEqual([
      "-",
      "-",
      "-",
      "raise:critical",
      "-",
    ]);
  });
});

describe("members of struct properties", () => {
  test("a path reads a member of a struct property (DJI's battery.capacity_percent), and changes of other members are no change", () => {
    const d = device({
      levels: [
        { severity: "major", when: { property: "battery", path: "capacity_percent", op: "lt", value: 20 } },
        { severity: "minor", when: { property: "battery", path: "capacity_percent", changed: true } },
      ],
    });
    expect(d.actions([prop(0, { battery: { capacity_percent: 50, remain_flight_time: 900 } })])).toEqual(["-"]);
    expect(d.actions([prop(1, { battery: { capacity_percent: 50, remain_flight_time: 800 } })])).toEqual(["-"]);
    expect(d.actions([prop(2, { battery: { capacity_percent: 19, remain_flight_time: 300 } })])).toEqual(["raise:major"]);
    expect(d.actions([prop(3, { battery: { capacity_percent: 19, remain_flight_time: 200 } })])).toEqual(["occur:major"]);
    expect(d.actions([prop(4, { battery: { capacity_percent: 80, remain_flight_time: 1200 } })])).toEqual(["downgrade:minor"]);
  });
});

describe("values the thing model allows in two forms", () => {
  test("a bool sent as 0/1 equals true/false", () => {
    const d = device({ levels: [{ severity: "warning", when: { property: "door", op: "eq", value: true } }] });
    expect(d.actions([prop(1, { door: 1 }), prop(2, { door: 0 }), prop(3, { door: true })])).toEqual(["raise:warning", "clear", "raise:warning"]);
  });

  test("a date sent as a digit string compares as a number", () => {
    const d = device({ levels: [{ severity: "warning", when: { property: "expires", op: "lt", value: 1_700_000_000_000 } }] });
    expect(d.actions([prop(1, { expires: "1600000000000" }), prop(2, { expires: "1800000000000" })])).toEqual(["raise:warning", "clear"]);
  });
});

describe("out of order and redelivered inputs", () => {
  const plain = { levels: [{ severity: "warning", when: { property: "battery", op: "lt", value: 20 } }] };

  test("a late value with an older device time does not overwrite a newer one", () => {
    const d = device(plain);
    d.feed(battery(2_000, 50));
    expect(d.feed(battery(1_000, 5))!.action).toBeNull();
    expect(d.state.facts.props.battery).toEqual({ v: 50, ts: 2_000 });
  });

  test("a late offline report does not undo a newer online one", () => {
    const d = device({ levels: [{ severity: "major", when: { offlineForMs: 0 } }] });
    d.feed(presence(2_000, true));
    expect(d.feed(presence(1_000, false))!.action).toBeNull();
    expect(d.state.facts.offlineSince).toBeNull();
  });

  test("the same input twice changes nothing beyond the first: same facts, same timers, at most an occurrence", () => {
    const cases: [unknown, Input][] = [
      [lowBattery, battery(1_000, 15)],
      [plain, battery(1_000, 15)],
      [{ levels: [{ severity: "warning", when: { property: "mode", changed: true } }] }, prop(1_000, { mode: 2 })],
      [{ levels: [{ severity: "major", when: { event: "hms" } }] }, event(1_000, "hms", { list: [] })],
      [{ levels: [{ severity: "major", when: { offlineForMs: 60_000 } }] }, presence(1_000, false)],
      [{ levels: [{ severity: "minor", when: { commands: { outcomes: ["failed"], atLeast: 2, withinMs: 60_000 } } }] }, command(1_000, "failed")],
    ];
    for (const [rule, input] of cases) {
      const d = device(rule);
      d.feed(prop(500, { mode: 1 }));
      const first = d.feed(input)!;
      const second = d.feed(input)!;
      expect({ rule, facts: second.facts, timers: second.timers, dueAt: second.dueAt }).toEqual({
        rule,
        facts: first.facts,
        timers: first.timers,
        dueAt: first.dueAt,
      });
      expect({ rule, action: second.action?.type ?? null }).toEqual({ rule, action: first.action ? "occur" : null });
    }
  });
});

describe("the rule's clock", () => {
  test("never runs back: a tick or a message older than the latest time seen is evaluated at the latest time", () => {
    const d = device(lowBattery);
    d.feed(battery(100_000, 15));
    const late = d.feed(tick(50_000))!;
    expect(late.timers).toEqual({ levels: { warning: 100_000 }, t: 100_000 });
    expect(late.dueAt).toBe(160_000);
    expect(d.feed(battery(90_000, 15))!.timers.t).toBe(100_000);
    expect(d.feed(tick(160_000))!.action).toMatchObject({ type: "raise", details: { at: 160_000 } });
  });
});

test("a rule skips the inputs it does not read", () => {
  const rule = compileRule(parseRule(lowBattery));
  expect(reads(rule, battery(1, 10))).toBe(true);
  expect(reads(rule, prop(1, { temperature: 10 }))).toBe(false);
  expect(reads(rule, event(1, "hms"))).toBe(false);
  expect(reads(rule, presence(1, false))).toBe(false);
  expect(reads(rule, command(1, "failed"))).toBe(false);
  expect(reads(rule, tick(1))).toBe(true);
  const counting = compileRule(parseRule({ levels: [{ severity: "minor", when: { commands: { outcomes: ["timeout"], atLeast: 1, withinMs: 1000 } } }] }));
  expect(reads(counting, command(1, "timeout"))).toBe(true);
  expect(reads(counting, command(1, "acked"))).toBe(false);
});
