import { afterAll, beforeAll, expect, test } from "bun:test";
import { aircraftOf, behaviours, runFleet, startFleet, type SimulatedDevice } from "@umos/simulator";
import { eventually, startStack, type Json, type TestStack } from "@umos/testkit";

/**
 * `bun run simulate`'s devices against all five services: they register through the API, their
 * reports reach a WebSocket client, each vendor's device answers a command until it is `acked`,
 * and a device that drops off is seen offline (its last will) and online again when it is back.
 */
let stack: TestStack;
let devices: SimulatedDevice[] = [];
let run: ReturnType<typeof runFleet> | undefined;

beforeAll(async () => {
  stack = await startStack();
}, 60_000);

afterAll(async () => {
  run?.stop();
  await Promise.all(devices.map((d) => d.close().catch(() => {})));
  await stack?.dispose();
});

test("simulated generic, DJI and Tuya devices report, answer commands and come back after dropping off", async () => {
  const fleet = behaviours({ generic: 1, dji: 1, tuya: 1 }, "e2e-");
  const ids = fleet.map((b) => b.id);
  const dock = ids.find((id) => id.includes("dock"))!;
  const everyDevice = [...ids, aircraftOf(dock)];
  const app = await stack.dashboard({ devices: everyDevice });
  // Answers after 200 ms, as `bun run simulate` does: real devices take time to act.
  devices = await startFleet(fleet, { brokerUrl: stack.broker.url, answerDelayMs: 0, register: { apiUrl: stack.platform.apiUrl, token: stack.token } });
  run = runFleet(devices, { rate: 5, eventEverySec: 1, offlineEverySec: 0, offlineForSec: 0 });

  const reported = (id: string) => app.messages().some((m: Json) => m.deviceId === id && m.kind === "property.report");
  await eventually(() => everyDevice.every(reported), 15_000, "a property report from every device, the aircraft included");
  await eventually(
    () => ids.every((id) => app.messages().some((m: Json) => m.deviceId === id && m.kind === "event.report")),
    15_000,
    "an event from every device",
  );
  const aircraft = await stack.api.get(`/api/v1/devices/${aircraftOf(dock)}`);
  expect(aircraft.body).toMatchObject({ vendor: "dji", parentId: dock, online: true });

  // A command to each vendor's device, and one to the aircraft through its dock.
  const sent = await Promise.all(
    [...ids, aircraftOf(dock)].map(async (id) => {
      const res = await stack.api.post(`/api/v1/devices/${id}/commands`, { service: "locate", params: { blink: 3 } });
      expect(res.status).toBe(202);
      return res.body.id as string;
    }),
  );
  for (const id of sent) {
    let last: Json;
    const acked = await eventually(
      async () => {
        last = (await stack.api.get(`/api/v1/commands/${id}`)).body;
        return last.status === "acked" ? last : undefined;
      },
      15_000,
      `command ${id} acked`,
    ).catch(async (err) => {
      const replies = (await stack.api.get(`/api/v1/devices/${last.deviceId}/messages?kind=service.reply`)).body;
      const counters = devices.map((d) => [d.behaviour.id, d.counters]);
      throw new Error(
        `${String(err)}; the command is ${JSON.stringify(last)}; replies logged: ${JSON.stringify(replies)}; devices: ${JSON.stringify(counters)}`,
      );
    });
    expect(acked.history.map((h: Json) => h.status)).toEqual(["queued", "sent", "acked"]);
  }
  const refused = await stack.api.post(`/api/v1/devices/${ids[0]}/commands`, { service: "fail" });
  await eventually(async () => (await stack.api.get(`/api/v1/commands/${refused.body.id}`)).body.status === "failed", 15_000, "the 'fail' call failed");

  // The generic device loses its connection: the broker's last will says offline; back, its birth message says online.
  const generic = devices.find((d) => d.behaviour.vendor === "generic")!;
  const onlineOf = async () => (await stack.api.get(`/api/v1/devices/${generic.behaviour.id}`)).body.online;
  await generic.drop();
  await eventually(async () => (await onlineOf()) === false, 15_000, "offline from the last will");
  await generic.restore();
  await eventually(async () => (await onlineOf()) === true, 15_000, "online again");
  app.socket.close();
}, 90_000);
