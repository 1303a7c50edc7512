import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "@umos/core";
import { compileModel, validateDefinition } from "./index";

const thermostat = validateDefinition({
  properties: [
    { identifier: "temperature", accessMode: "r", dataType: { type: "float", specs: { min: -40, max: 85, unit: "°C" } } },
    { identifier: "target", accessMode: "rw", dataType: { type: "int", specs: { min: 5, max: 30 } } },
    { identifier: "mode", accessMode: "rw", dataType: { type: "enum", specs: { "0": "off", "1": "heat", "2": "cool" } } },
    { identifier: "power", accessMode: "rw", dataType: { type: "bool", specs: { "0": "off", "1": "on" } } },
    { identifier: "label", accessMode: "rw", dataType: { type: "text", specs: { size: 8 } } },
    {
      identifier: "position",
      accessMode: "r",
      dataType: {
        type: "struct",
        specs: [
          { identifier: "lat", dataType: { type: "double" } },
          { identifier: "lon", dataType: { type: "double" } },
        ],
      },
    },
    { identifier: "history", accessMode: "r", dataType: { type: "array", specs: { size: 3, item: { type: "int" } } } },
    { identifier: "since", accessMode: "r", dataType: { type: "date" } },
  ],
  events: [{ identifier: "overheat", type: "alert", outputData: [{ identifier: "temperature", dataType: { type: "float" } }] }],
  services: [
    {
      identifier: "setSchedule",
      callType: "async",
      inputData: [
        { identifier: "speed", required: true, dataType: { type: "int", specs: { min: 1, max: 3 } } },
        { identifier: "note", dataType: { type: "text" } },
      ],
      outputData: [],
    },
  ],
});
const model = compileModel(thermostat, "thermostat@1");

describe("property reports", () => {
  test("a valid partial report has no problems", () => {
    expect(
      model.checkPropertyReport({ temperature: 21.5, power: true, mode: 2, position: { lat: 1, lon: 2 }, history: [1, 2], since: "1700000000000" }),
    ).toEqual([]);
    expect(model.checkPropertyReport({ power: 1 })).toEqual([]);
  });

  test("out of range, wrong type and unknown properties are named with the rule", () => {
    expect(model.checkPropertyReport({ temperature: 120 })).toEqual([{ path: "temperature", message: "Expected number to be less or equal to 85 (got 120)" }]);
    expect(model.checkPropertyReport({ target: 20.5 })[0]).toMatchObject({ path: "target", message: expect.stringContaining("Expected integer") });
    expect(model.checkPropertyReport({ mode: 7 })[0]!.path).toBe("mode");
    expect(model.checkPropertyReport({ label: "far too long" })[0]!.path).toBe("label");
    expect(model.checkPropertyReport({ history: [1, 2, 3, 4] })[0]!.path).toBe("history");
    expect(model.checkPropertyReport({ position: { lat: 1, alt: 3 } })).toEqual([
      { path: "position.alt", message: "not a property of thing model thermostat@1" },
    ]);
    expect(model.checkPropertyReport({ humidity: 40 })).toEqual([{ path: "humidity", message: "not a property of thing model thermostat@1" }]);
  });
});

describe("events and services", () => {
  test("an event's outputs are checked; an unknown event is named", () => {
    expect(model.checkEvent("overheat", { temperature: 90 })).toEqual([]);
    expect(model.checkEvent("overheat", { temperature: "hot" })[0]!.path).toBe("data.temperature");
    expect(model.checkEvent("explode", {})).toEqual([{ path: "event", message: "'explode' is not an event of thing model thermostat@1" }]);
  });

  test("service parameters: required, typed and bounded, named by their path", () => {
    expect(model.checkServiceCall("setSchedule", { speed: 2 })).toEqual([]);
    expect(model.checkServiceCall("setSchedule", { speed: 9 })[0]).toMatchObject({
      path: "params.speed",
      message: expect.stringContaining("less or equal to 3"),
    });
    expect(model.checkServiceCall("setSchedule", {})[0]!.path).toBe("params.speed");
    expect(model.checkServiceCall("setSchedule", { speed: 1, turbo: true })[0]).toEqual({
      path: "params.turbo",
      message: "not an input of service 'setSchedule'",
    });
    expect(model.checkServiceCall("selfDestruct", {})[0]!.path).toBe("service");
  });

  test("a property set takes rw properties only", () => {
    expect(model.checkPropertySet({ target: 21, power: false })).toEqual([]);
    expect(model.checkPropertySet({ temperature: 20 })).toEqual([{ path: "temperature", message: "is read-only (accessMode r)" }]);
    expect(model.checkPropertySet({ target: 99 })[0]!.path).toBe("target");
  });
});

describe("model definitions", () => {
  const bad = (definition: unknown) => {
    try {
      validateDefinition(definition);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      return (err as Error).message;
    }
    throw new Error("expected the definition to be refused");
  };

  test("impossible specs are refused when the model is saved, naming where", () => {
    expect(bad({ properties: [{ identifier: "t", accessMode: "r", dataType: { type: "int", specs: { min: 10, max: 1 } } }] })).toBe(
      "properties[0].t: min 10 is above max 1",
    );
    expect(bad({ properties: [{ identifier: "m", accessMode: "r", dataType: { type: "enum", specs: { "1": "x", a: "y" } } }] })).toContain(
      "mix integers and names",
    );
    expect(
      bad({
        properties: [
          { identifier: "t", accessMode: "r", dataType: { type: "int" } },
          { identifier: "t", accessMode: "r", dataType: { type: "int" } },
        ],
      }),
    ).toContain("appears twice");
    expect(bad({ properties: [{ identifier: "9lives", accessMode: "r", dataType: { type: "int" } }] })).toContain("/properties/0/identifier");
  });
});
