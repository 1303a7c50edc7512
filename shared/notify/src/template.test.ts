import { describe, expect, test } from "bun:test";
import { channelTarget } from "./channel";
import { placeholderRoots, render } from "./template";

describe("templates", () => {
  const values = { trigger: "alarm.raised", deviceId: null, alarm: { severity: "major", occurrences: 3, details: { a: [1, 2] } } };

  test("placeholders are dotted paths into the notification; a missing or null value renders as nothing", () => {
    expect(render("{{ trigger }}: {{alarm.severity}} x{{alarm.occurrences}} {{deviceId}}|{{alarm.nope.deeper}}|", values)).toBe("alarm.raised: major x3 ||");
  });

  test("an object renders as JSON", () => {
    expect(render("{{alarm.details}}", values)).toBe('{"a":[1,2]}');
  });

  test("only the notification's own fields are reachable, never the prototype's", () => {
    expect(render("{{constructor}}{{alarm.__proto__}}{{alarm.constructor.name}}{{trigger.length}}", values)).toBe("");
  });

  test("anything that is not a placeholder stays as written: no expressions, no helpers", () => {
    const template = "{{alarm.severity | upper}} {{ 1 + 1 }} {{#each x}} {single}";
    expect(render(template, values)).toBe(template);
    expect(placeholderRoots("{{alarm.severity}} {{summary}}")).toEqual(["alarm", "summary"]);
  });

  test("a channel whose template names a field notifications do not have is refused, naming the field", () => {
    const config = { url: "https://hooks.example.test/x", format: "slack", text: "{{alarm.severity}} {{severity}}" };
    expect(() => channelTarget("webhook", config, "webhook")).toThrow("webhook/text: no field 'severity'");
  });
});
