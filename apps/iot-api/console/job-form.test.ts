import { expect, test } from "bun:test";
import { type JobFields, jobRequest } from "./job-form";

const fields = (over: Partial<JobFields> = {}): JobFields => ({
  name: "locate all",
  targetKind: "query",
  target: "vendor = generic",
  operationKind: "service",
  service: "locate",
  params: "{}",
  packages: [],
  ratePerMinute: "600",
  maxInFlight: "50",
  canary: "",
  failurePercent: "",
  minFinished: "",
  retries: "0",
  ...over,
});

test("the form's fields make the request, empty optional ones leaving the API's defaults", () => {
  expect(jobRequest(fields())).toEqual({
    name: "locate all",
    target: { query: "vendor = generic" },
    operation: { kind: "service", service: "locate", params: {} },
    rollout: { ratePerMinute: 600, maxInFlight: 50, retries: 0 },
  });
  expect(jobRequest(fields({ ratePerMinute: "", maxInFlight: "", retries: "" }))).toMatchObject({ rollout: {} });
});

test("a canary makes two waves, and the abort threshold takes both its numbers", () => {
  expect(jobRequest(fields({ canary: "2", failurePercent: "12.5", minFinished: "4" }))).toMatchObject({
    rollout: { waves: [{ devices: 2 }, { percent: 100 }], abort: { failurePercent: 12.5, minFinished: 4 } },
  });
  expect(jobRequest(fields({ failurePercent: "20" }))).toContain("abort threshold takes both");
});

test("a group target and a property set", () => {
  expect(jobRequest(fields({ targetKind: "group", target: "roof", operationKind: "property", service: "", params: '{"target": 21}' }))).toMatchObject({
    target: { group: "roof" },
    operation: { kind: "property", params: { target: 21 } },
  });
});

test("a firmware update takes the packages ticked, and neither a service nor params", () => {
  expect(jobRequest(fields({ operationKind: "firmware", service: "", params: "not JSON", packages: ["p-1", "p-2"] }))).toMatchObject({
    operation: { kind: "firmware", packages: ["p-1", "p-2"] },
  });
  expect(jobRequest(fields({ operationKind: "firmware" }))).toBe("tick the firmware packages to install");
});

test("what the form can tell is wrong, it says before asking the API", () => {
  expect(jobRequest(fields({ params: "[1]" }))).toBe('params must be a JSON object, e.g. {"minutes": 30}');
  expect(jobRequest(fields({ operationKind: "property", params: "{}" }))).toBe('properties: name at least one, e.g. {"target": 21}');
  expect(jobRequest(fields({ target: "", targetKind: "group" }))).toBe("give a group id");
  expect(jobRequest(fields({ retries: "1.5" }))).toBe("the rollout's counts must be whole numbers");
});
