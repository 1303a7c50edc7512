import { expect, test } from "bun:test";
import type { DeviceRoute } from "@umos/store";
import { manualClock } from "@umos/testkit";
import { createDeviceDirectory } from "./device-directory";

/** A registry of one device at a time, counting how often the directory asks it. */
function registry() {
  const devices = new Map<string, DeviceRoute>();
  let lookups = 0;
  return {
    devices,
    get lookups() {
      return lookups;
    },
    async routes(ids: string[]) {
      lookups++;
      return new Map(ids.flatMap((id) => (devices.has(id) ? [[id, devices.get(id)!] as const] : [])));
    },
  };
}

const fan: DeviceRoute = { vendor: "generic", model: null, parentId: null };

test("a known device is read from the registry once per ttl; a change shows after it", async () => {
  const clock = manualClock();
  const store = registry();
  store.devices.set("fan-1", fan);
  const directory = createDeviceDirectory(store, { ttlMs: 10_000, clock });
  expect(await directory.route("fan-1")).toEqual(fan);
  store.devices.set("fan-1", { ...fan, model: { id: "fan", version: 2 } });
  clock.advance(9_999);
  expect(await directory.route("fan-1")).toEqual(fan);
  expect(store.lookups).toBe(1);
  clock.advance(1);
  expect((await directory.route("fan-1"))?.model).toEqual({ id: "fan", version: 2 });
  expect(store.lookups).toBe(2);
});

test("an unknown device is asked for again after two seconds, so one registered meanwhile is found", async () => {
  const clock = manualClock();
  const store = registry();
  const directory = createDeviceDirectory(store, { ttlMs: 10_000, clock });
  await expect(directory.require("fan-2", "generic")).rejects.toMatchObject({ code: "unknown_device" });
  store.devices.set("fan-2", fan);
  clock.advance(1_999);
  expect(await directory.route("fan-2")).toBeNull();
  clock.advance(1);
  expect(await directory.require("fan-2", "generic")).toEqual(fan);
  await expect(directory.require("fan-2", "tuya")).rejects.toMatchObject({ code: "vendor_mismatch" });
});

test("lookups of one device at the same moment share one registry read", async () => {
  const store = registry();
  store.devices.set("fan-3", fan);
  const directory = createDeviceDirectory(store, { ttlMs: 10_000, clock: manualClock() });
  await Promise.all([directory.route("fan-3"), directory.route("fan-3"), directory.route("fan-3")]);
  expect(store.lookups).toBe(1);
});
