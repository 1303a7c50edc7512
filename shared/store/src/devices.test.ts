import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { UmosError } from "@umos/core";
import { commandRepository } from "./commands";
import type { Database } from "./database";
import { scratchDatabase } from "./scratch-database";
import { deviceRepository } from "./devices";

let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
let db: Database;
let devices: ReturnType<typeof deviceRepository>;

beforeAll(async () => {
  scratch = await scratchDatabase("devices");
  db = scratch.db;
  devices = deviceRepository(db.sql);
  for (const id of ["dock-a", "dock-b", "drone-own"]) await devices.create({ id, vendor: "dji" });
  await devices.create({ id: "lamp", vendor: "generic" });
});

afterAll(async () => {
  await scratch?.dispose();
});

const parentOf = async (id: string) => (await devices.get(id)).parentId;
/** The stable code of the error a call is refused with, or undefined when it succeeds. */
const refusal = (run: Promise<unknown>) =>
  run.then(
    () => undefined,
    (err: unknown) => (err instanceof UmosError ? err.code : String(err)),
  );

describe("a gateway's topology (docs/design.md §8: a gateway speaks only for what is its own)", () => {
  test("a new sub-device is adopted with the gateway's vendor, and stays the gateway's", async () => {
    expect(await devices.applyTopology("dock-a", ["drone-1", "drone-1"])).toEqual([{ id: "drone-1", vendor: "dji", online: true }]);
    expect(await parentOf("drone-1")).toBe("dock-a");
    expect(await devices.applyTopology("dock-a", ["drone-1"])).toEqual([]);
    expect(await devices.applyTopology("dock-a", [])).toEqual([{ id: "drone-1", vendor: "dji", online: false }]);
  });

  test("another gateway's sub-device, a device registered on its own or the gateway itself is never taken, and nothing changes", async () => {
    await devices.applyTopology("dock-a", ["drone-1"]);
    for (const listed of [["drone-1"], ["drone-2", "drone-1"], ["drone-own"], ["lamp"], ["dock-b"]]) {
      expect(await refusal(devices.applyTopology("dock-b", listed))).toBe("foreign_sub_device");
    }
    expect(await refusal(devices.applyTopology("dock-a", ["dock-a"]))).toBe("foreign_sub_device");
    expect(await parentOf("drone-1")).toBe("dock-a");
    expect(await parentOf("drone-own")).toBeNull();
    // The refused report created nothing either: drone-2 was listed beside a foreign device.
    expect(await refusal(devices.get("drone-2"))).toBe("not_found");
    expect((await devices.get("drone-1")).online).toBe(true);
  });

  test("a report listing more sub-devices than one frame may is refused whole", async () => {
    const many = Array.from({ length: 17 }, (_, i) => `swarm-${i}`);
    expect(await refusal(devices.applyTopology("dock-b", many))).toBe("too_many_sub_devices");
    expect(await refusal(devices.get("swarm-0"))).toBe("not_found");
  });

  test("two gateways claiming the same new device at once: one adopts it, the other is refused", async () => {
    const outcomes = await Promise.all([refusal(devices.applyTopology("dock-a", ["contested"])), refusal(devices.applyTopology("dock-b", ["contested"]))]);
    expect(outcomes.filter((o) => o === undefined).length).toBe(1);
    expect(outcomes.filter((o) => o !== undefined)).toEqual(["foreign_sub_device"]);
    expect(["dock-a", "dock-b"]).toContain((await parentOf("contested"))!);
  });

  test("an admin moves a device under a gateway of its vendor, not under another vendor's, a sub-device or itself", async () => {
    expect((await devices.update("drone-own", { parentId: "dock-b" })).parentId).toBe("dock-b");
    expect(await devices.applyTopology("dock-b", ["drone-own"])).toEqual([{ id: "drone-own", vendor: "dji", online: true }]);
    expect(await refusal(devices.update("lamp", { parentId: "dock-a" }))).toBe("invalid_parent");
    expect(await refusal(devices.update("drone-1", { parentId: "drone-own" }))).toBe("invalid_parent");
    expect(await refusal(devices.update("dock-a", { parentId: "dock-a" }))).toBe("invalid_parent");
    expect(await refusal(devices.update("dock-a", { parentId: "dock-b" }))).toBe("invalid_parent");
    expect(await refusal(devices.update("drone-1", { parentId: "nowhere" }))).toBe("unknown_parent");
    expect((await devices.update("drone-own", { parentId: null })).parentId).toBeNull();
  });
});

describe("a command's answer", () => {
  test("counts only from the command's device or the gateway it speaks through", async () => {
    const commands = commandRepository(db.sql);
    await devices.update("drone-own", { parentId: "dock-b" });
    const create = async (deviceId: string) =>
      (
        await commands.create({
          id: Bun.randomUUIDv7(),
          deviceId,
          vendor: "dji",
          kind: "service.call",
          service: "reboot",
          params: {},
          timeoutMs: 1000,
          ttlMs: 60_000,
        })
      ).command;
    const toDrone = await create("drone-own");
    expect(await commands.answer(toDrone.id, "dock-a", ["queued", "sent"], "acked", {})).toBeUndefined();
    expect(await commands.answer(toDrone.id, "drone-1", ["queued", "sent"], "acked", {})).toBeUndefined();
    expect((await commands.get(toDrone.id)).status).toBe("queued");
    expect((await commands.answer(toDrone.id, "dock-b", ["queued", "sent"], "acked", { output: { ok: true } }))?.status).toBe("acked");
    const toLamp = await create("lamp");
    expect((await commands.answer(toLamp.id, "lamp", ["queued", "sent"], "failed", { reason: "code 3" }))?.status).toBe("failed");
  });
});
