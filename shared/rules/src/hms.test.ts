import { describe, expect, test } from "bun:test";
import { hmsItems } from "./hms";

// The item shape of DJI's hms event (shared/vendors/src/dji/fixtures/events.json).
const item = (code: string, level: unknown) => ({
  level,
  module: 3,
  in_the_sky: 0,
  code,
  device_type: "0-67-0",
  imminent: 0,
  args: { component_index: 0, sensor_index: 0 },
});

describe("DJI HMS items", () => {
  test("levels 0, 1 and 2 map to warning, major and critical, each code with the item as sent", () => {
    const list = [item("0x16100083", 0), item("0x1B030004", 1), item("0x16100086", 2)];
    expect(hmsItems({ list })).toEqual([
      { code: "0x16100083", severity: "warning", item: list[0]! },
      { code: "0x1B030004", severity: "major", item: list[1]! },
      { code: "0x16100086", severity: "critical", item: list[2]! },
    ]);
  });

  test("malformed items are skipped and the rest are read", () => {
    const list = [null, "0x1", 7, [], { level: 2 }, item("", 1), { code: 0x16100083, level: 2 }, item("x".repeat(65), 2), item("0x16100083", 2)];
    expect(hmsItems({ list }).map((i) => i.code)).toEqual(["0x16100083"]);
  });

  test("data without a list holds no items", () => {
    for (const data of [null, undefined, "hms", [], {}, { list: null }, { list: { code: "0x1", level: 1 } }]) expect(hmsItems(data)).toEqual([]);
  });

  test("an item whose level is missing or unknown is kept as a warning: a health problem is not dropped", () => {
    expect(hmsItems({ list: [item("0x1", undefined), item("0x2", 9), item("0x3", "2")] }).map((i) => i.severity)).toEqual(["warning", "warning", "warning"]);
  });

  test("a code listed twice is one alarm, at its most severe level", () => {
    const items = hmsItems({ list: [item("0x16100083", 0), item("0x1B030004", 1), item("0x16100083", 2), item("0x16100083", 1)] });
    expect(items.map((i) => [i.code, i.severity])).toEqual([
      ["0x16100083", "critical"],
      ["0x1B030004", "major"],
    ]);
  });
});
