import { expect, test } from "bun:test";
import { parseRoutingKey, routingKey } from "./routing";

test("a routing key parses into vendor, stage and an action that may hold dots", () => {
  expect(parseRoutingKey(routingKey("dji", "event", "property.report"))).toEqual({ vendor: "dji", stage: "event", action: "property.report" });
  expect(parseRoutingKey("iot.generic.service.service.call")).toEqual({ vendor: "generic", stage: "service", action: "service.call" });
  expect(parseRoutingKey("iot.tuya.device.a.b.c")).toEqual({ vendor: "tuya", stage: "device", action: "a.b.c" });
  expect(parseRoutingKey("iot.generic.gateway.")).toEqual({ vendor: "generic", stage: "gateway", action: "" });
});

test("keys outside iot.{vendor}.{stage}.{action} are refused", () => {
  for (const key of [
    "",
    "iot",
    "iot.",
    "iot.generic",
    "iot.generic.event",
    "iot..event.x",
    "iot.acme.event.x",
    "iot.generic.other.x",
    "iotx.generic.event.x",
    "x.generic.event.x",
    "iot.generic..x",
  ]) {
    expect(parseRoutingKey(key)).toBeUndefined();
  }
});
