import { describe, expect, test } from "bun:test";
import { Subscriptions } from "./subscriptions";

const msg = (deviceId: string, vendor = "generic", kind = "property.report") => ({ deviceId, vendor, kind });

describe("WebSocket subscriptions", () => {
  test("no subscription, no messages", () => {
    expect(new Subscriptions().matches(msg("a"))).toBe(false);
  });

  test("an omitted list means any; given lists must all match", () => {
    const s = new Subscriptions();
    s.add({ devices: ["a"], kinds: ["event.report"] });
    expect(s.matches(msg("a", "generic", "event.report"))).toBe(true);
    expect(s.matches(msg("a", "dji", "event.report"))).toBe(true);
    expect(s.matches(msg("a", "generic", "property.report"))).toBe(false);
    expect(s.matches(msg("b", "generic", "event.report"))).toBe(false);
  });

  test("filters add up, and a message matching two is still one match", () => {
    const s = new Subscriptions();
    s.add({ devices: ["a"] });
    s.add({ vendors: ["tuya"] });
    expect(s.matches(msg("a"))).toBe(true);
    expect(s.matches(msg("z", "tuya"))).toBe(true);
    expect(s.matches(msg("z"))).toBe(false);
  });

  test("unsubscribe removes names, drops emptied filters, and with no lists clears all", () => {
    const s = new Subscriptions();
    s.add({ devices: ["a", "b"] });
    s.add({ vendors: ["dji"] });
    s.remove({ devices: ["a"] });
    expect(s.matches(msg("a"))).toBe(false);
    expect(s.matches(msg("b"))).toBe(true);
    expect(s.size).toBe(1);
    s.add({ kinds: ["status.online"] });
    s.remove({});
    expect(s.size).toBe(0);
  });
});
