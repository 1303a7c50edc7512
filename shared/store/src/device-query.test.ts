import { describe, expect, test } from "bun:test";
import { UmosError } from "@umos/core";
import { MAX_CONDITIONS, MAX_DEPTH, MAX_QUERY_LENGTH, parseDeviceQuery } from "./device-query";

/** The message a query is refused with, or undefined when it parses. */
const refusal = (query: string) => {
  try {
    parseDeviceQuery(query);
    return undefined;
  } catch (err) {
    if (!(err instanceof UmosError) || err.code !== "invalid_query") throw err;
    return err.message;
  }
};

describe("the device query language", () => {
  test("parses the issue's example into a tree of typed conditions", () => {
    expect(parseDeviceQuery('vendor = dji and online and state.firmware_version < "10.1.8"')).toEqual({
      and: [
        { field: { name: "vendor" }, op: "=", value: "dji" },
        { field: { name: "online" }, op: "=", value: true },
        { field: { name: "state", path: ["firmware_version"] }, op: "<", value: "10.1.8" },
      ],
    });
  });

  test("binds and tighter than or, not tighter than and, and parentheses override both", () => {
    expect(parseDeviceQuery('tag = "a" or tag = "b" and not online')).toEqual({
      or: [
        { field: { name: "tag" }, op: "=", value: "a" },
        { and: [{ field: { name: "tag" }, op: "=", value: "b" }, { not: { field: { name: "online" }, op: "=", value: true } }] },
      ],
    });
    expect(parseDeviceQuery('(tag = "a" or tag = "b") and online')).toMatchObject({ and: [{ or: [{}, {}] }, {}] });
  });

  test("keywords are case-insensitive and == is =", () => {
    expect(parseDeviceQuery("VENDOR == tuya AND NOT online")).toEqual({
      and: [{ field: { name: "vendor" }, op: "=", value: "tuya" }, { not: { field: { name: "online" }, op: "=", value: true } }],
    });
  });

  test("reads durations ago, ISO times, lists, nested paths, escapes and bare search text", () => {
    expect(parseDeviceQuery("last_seen < 15m ago")).toEqual({ field: { name: "last_seen" }, op: "<", value: { agoMs: 900_000 } });
    expect(parseDeviceQuery('created >= "2026-12-01T00:00:00Z"')).toEqual({
      field: { name: "created" },
      op: ">=",
      value: new Date("2026-12-01T00:00:00Z"),
    });
    expect(parseDeviceQuery('tags in ("roof", "north")')).toEqual({ field: { name: "tag" }, op: "in", values: ["roof", "north"] });
    expect(parseDeviceQuery("state.drone_charge_state.capacity_percent <= -2.5e1")).toEqual({
      field: { name: "state", path: ["drone_charge_state", "capacity_percent"] },
      op: "<=",
      value: -25,
    });
    expect(parseDeviceQuery(`name ~ 'it\\'s "here"'`)).toEqual({ field: { name: "name" }, op: "~", value: `it's "here"` });
    expect(parseDeviceQuery('"dock"')).toEqual({ text: "dock" });
    expect(parseDeviceQuery("metadata.site = null")).toEqual({ field: { name: "metadata", path: ["site"] }, op: "=", value: null });
  });

  test.each([
    ["", "the query is empty"],
    ["vendor = apple", "'apple' is not a vendor"],
    ["firmware = 1", "'firmware' is not a field"],
    ["online = 1", "online is compared with true or false"],
    ['tag < "a"', "'tag' does not take '<'"],
    ['tag ~ "a"', "'tag' does not take '~'"],
    ["vendor", "'vendor' needs an operator"],
    ["last_seen < 15m", "followed by 'ago'"],
    ['last_seen < "yesterday"', "is not an ISO 8601 time"],
    ['id = "a" and', "expected a field"],
    ['id = "a" or or', "expected a field"],
    ['(id = "a"', "expected ')'"],
    ['id = "a")', "expected 'and', 'or' or the end"],
    ['id = "a', "the string is not closed"],
    ["id = 'a\\n'", "only \\\\"],
    ["state = 1", "state needs a name after it"],
    ["metadata.a$b = 1", "unexpected '$'"],
    ["state.x = 10.1.8", "is not a number or a duration"],
    ["id = a", "id is compared with a quoted text"],
    ["online != null", "online != null is not a comparison"],
    ["state.x < null", "state.x < null is not a comparison"],
    ["state.x < true", "is not a comparison it takes"],
    ['id ~ ""', "a non-empty quoted text"],
    ['id = "x"; drop table devices', "unexpected ';'"],
    ['id = "x" -- comment', "not a number or a duration"],
    ["1 = 1", "expected a field"],
  ])("refuses %p, saying where and why", (query, reason) => {
    const message = refusal(query);
    expect(message).toContain(reason);
  });

  test("says the column of the mistake", () => {
    expect(refusal("vendor = dji and online = maybe")).toBe("at column 27: online is compared with true or false, not 'maybe'");
  });

  test("bounds length, nesting and the number of conditions", () => {
    expect(refusal(`id = "${"a".repeat(MAX_QUERY_LENGTH)}"`)).toContain(`at most ${MAX_QUERY_LENGTH}`);
    expect(refusal(`${"(".repeat(MAX_DEPTH + 1)}online${")".repeat(MAX_DEPTH + 1)}`)).toContain("nested more than");
    expect(refusal(`${"not ".repeat(MAX_DEPTH + 1)}online`)).toContain("nested more than");
    expect(refusal(Array.from({ length: MAX_CONDITIONS + 1 }, () => "online").join(" or "))).toContain("more than 64 conditions");
    expect(refusal(Array.from({ length: MAX_CONDITIONS }, () => "online").join(" or "))).toBeUndefined();
  });
});
