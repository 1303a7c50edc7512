import { expect, test } from "bun:test";
import { SEVERITIES as RULE_SEVERITIES } from "@umos/rules";
import { alarmBadge, alarmQueries, compareAlarms, handling, ruleScope, SEVERITIES, withAlarm } from "./alarms";
import type { Alarm } from "./api";

const alarm = (id: string, over: Partial<Alarm> = {}): Alarm => ({
  id,
  deviceId: "pump-1",
  vendor: "generic",
  source: `rule:${id}`,
  type: id,
  severity: "minor",
  status: "active",
  acknowledged: false,
  acknowledgedBy: null,
  assignee: null,
  startedAt: "2025-06-15T10:00:00.000Z",
  lastSeenAt: "2025-06-15T10:00:00.000Z",
  endedAt: null,
  clearedBy: null,
  occurrences: 1,
  details: {},
  updatedAt: "2025-06-15T10:00:00.000Z",
  ...over,
});

test("the console ranks every severity the rules know, worst first", () => {
  expect([...SEVERITIES].sort()).toEqual([...RULE_SEVERITIES].sort());
  expect(SEVERITIES).toEqual([...RULE_SEVERITIES].reverse());
});

test("alarms read active first, then by severity, then the latest started first", () => {
  const list = [
    alarm("cleared-critical", { status: "cleared", severity: "critical" }),
    alarm("old-warning", { severity: "warning", startedAt: "2025-06-15T08:00:00.000Z" }),
    alarm("new-warning", { severity: "warning", startedAt: "2025-06-15T09:00:00.000Z" }),
    alarm("major"),
    alarm("critical", { severity: "critical" }),
    alarm("minor", { severity: "minor" }),
  ].sort(compareAlarms);
  expect(list.map((a) => a.id)).toEqual(["critical", "major", "minor", "new-warning", "old-warning", "cleared-critical"]);
});

test("the filter asks active and cleared alarms apart, and the severities at or above the least shown", () => {
  expect(alarmQueries({ status: "active", atLeast: "warning" }).map(String)).toEqual(["status=active"]);
  expect(alarmQueries({ status: "all", atLeast: "major" }).map(String)).toEqual([
    "status=active&severity=critical&severity=major",
    "status=cleared&severity=critical&severity=major",
  ]);
});

test("an alarm's new state replaces the one held, joins the list or leaves it as the filter says", () => {
  const filter = { status: "active", atLeast: "warning" } as const;
  const held = [alarm("a"), alarm("b", { severity: "major" })];
  const escalated = withAlarm(held, alarm("a", { severity: "critical", updatedAt: "2025-06-15T10:01:00.000Z" }), filter);
  expect(escalated.map((a) => [a.id, a.severity])).toEqual([
    ["a", "critical"],
    ["b", "major"],
  ]);
  expect(withAlarm(escalated, alarm("c"), filter).map((a) => a.id)).toEqual(["a", "b", "c"]);
  expect(withAlarm(escalated, alarm("b", { status: "cleared", updatedAt: "2025-06-15T10:02:00.000Z" }), filter).map((a) => a.id)).toEqual(["a"]);
  // The raise's event arriving after the answer to an acknowledgement does not undo it.
  const acknowledged = withAlarm(held, alarm("a", { acknowledged: true, updatedAt: "2025-06-15T10:05:00.000Z" }), filter);
  expect(withAlarm(acknowledged, alarm("a"), filter).find((a) => a.id === "a")?.acknowledged).toBe(true);
});

test("the badge counts active alarms in the colour of the worst", () => {
  expect(alarmBadge({ active: { critical: 0, major: 2, minor: 0, warning: 1 }, unacknowledged: 2 })).toEqual({
    count: 3,
    worst: "major",
    text: "3 alarms",
    title: "active: 2 major, 1 warning; 2 not acknowledged",
  });
  expect(alarmBadge({ active: { warning: 1 }, unacknowledged: 0 })).toMatchObject({ count: 1, worst: "warning", text: "1 alarm" });
  expect(alarmBadge({ active: {}, unacknowledged: 0 })).toMatchObject({ count: 0, worst: null, text: "0 alarms", title: "no active alarms" });
});

test("an alarm says who acknowledged it, who it is assigned to and who cleared it", () => {
  expect(handling(alarm("a"))).toBe("not acknowledged");
  expect(handling(alarm("a", { acknowledged: true, acknowledgedBy: "alice", assignee: "bob" }))).toBe("acknowledged by alice · assigned to bob");
  expect(handling(alarm("a", { status: "cleared", clearedBy: "rule" }))).toBe("not acknowledged · cleared by rule");
});

test("a rule applies to its thing model or the devices it names", () => {
  expect(ruleScope({ model: "thermostat", devices: [] })).toBe("model thermostat");
  expect(ruleScope({ model: null, devices: ["a", "b"] })).toBe("devices a, b");
  expect(ruleScope({ model: null, devices: ["a", "b", "c", "d", "e"] })).toBe("devices a, b, c and 2 more");
});
