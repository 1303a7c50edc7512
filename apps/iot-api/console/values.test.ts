import { expect, test } from "bun:test";
import { ago, numericValues } from "./values";

test("numbers are found by dotted path, booleans count as 1 and 0, text and arrays are left out", () => {
  expect(numericValues({ temperature: 21.5, mode: "eco", on: true, battery: { capacity_percent: 87 }, list: [1, 2] })).toEqual({
    temperature: 21.5,
    on: 1,
    "battery.capacity_percent": 87,
  });
  expect(numericValues({ a: { b: { c: { d: { e: 1 } } } } })).toEqual({});
  expect(numericValues({ a: { b: { c: { d: 1 } } } })).toEqual({ "a.b.c.d": 1 });
});

test("times read as how long ago they were", () => {
  expect(ago(null)).toBe("never");
  expect(ago(1_000, 13_000)).toBe("12 s ago");
  expect(ago(0, 180_000)).toBe("3 min ago");
});
