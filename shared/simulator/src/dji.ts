import { FAILING_SERVICE, frame, readJson, type DeviceBehaviour, type Frame } from "./behaviour";
import { messageIds, readings } from "./readings";

/** The aircraft a simulated dock holds: its serial number is the dock's with this suffix. */
export const aircraftOf = (dockSn: string) => `${dockSn}-aircraft`;

/**
 * A DJI dock with one aircraft, on the DJI Cloud API topics (docs/interfaces.md: DJI Cloud API): announces the
 * aircraft with `update_topo` on `sys/product/{sn}/status`, reports its own osd and the aircraft's
 * (on the aircraft's SN, through the dock's connection), raises `hms` events with `need_reply`, and
 * answers `services` on `services_reply` and `property/set` on `property/set_reply`, echoing tid and
 * bid. Commands for the aircraft arrive on the dock's topics. DJI defines no last will: the platform
 * sees a silent dock go offline after `presence.silenceMs`.
 */
export function djiDock(sn: string, clock: () => number = Date.now): DeviceBehaviour {
  const aircraft = aircraftOf(sn);
  const nextId = messageIds();
  const dock = readings(
    { mode_code: 1, cover_state: 0, drone_in_dock: 1, environment_temperature: 24, humidity: 40, night_lights_state: 0, height_limit: 120 },
    { environment_temperature: { min: 10, max: 40, step: 0.5, decimals: 1 }, humidity: { min: 10, max: 90, step: 1, decimals: 0 } },
  );
  const drone = readings(
    { mode_code: 0, height: 0, capacity_percent: 100, latitude: 22.9078, longitude: 113.7034 },
    {
      capacity_percent: { min: 20, max: 100, step: 0.5, decimals: 0 },
      height: { min: 0, max: 120, step: 2, decimals: 1 },
      latitude: { min: 22.9, max: 22.92, step: 0.0002, decimals: 6 },
      longitude: { min: 113.69, max: 113.71, step: 0.0002, decimals: 6 },
    },
  );
  const envelope = (data: unknown, extra: Record<string, unknown> = {}) => {
    const id = nextId();
    return { tid: id, bid: id, timestamp: clock(), gateway: sn, ...extra, data };
  };
  const answer = (topic: string, call: Record<string, unknown>, data: unknown): Frame =>
    frame(`thing/product/${sn}/${topic}`, { tid: call.tid, bid: call.bid, timestamp: clock(), ...(call.method ? { method: call.method } : {}), data });

  return {
    vendor: "dji",
    id: sn,
    subscriptions: [
      `thing/product/${sn}/services`,
      `thing/product/${sn}/property/set`,
      `thing/product/${sn}/events_reply`,
      `thing/product/${sn}/requests_reply`,
      `sys/product/${sn}/status_reply`,
    ],
    announce: () => [
      frame(
        `sys/product/${sn}/status`,
        envelope({ type: 98, sub_type: 0, sub_devices: [{ sn: aircraft, type: 116, sub_type: 0, index: "A" }] }, { method: "update_topo" }),
      ),
    ],
    report() {
      const { capacity_percent, ...aircraftValues } = drone.next();
      return [
        frame(`thing/product/${sn}/osd`, envelope(dock.next())),
        frame(`thing/product/${aircraft}/osd`, envelope({ ...aircraftValues, battery: { capacity_percent } })),
      ];
    },
    event: () => [
      frame(
        `thing/product/${sn}/events`,
        envelope({ list: [{ level: 1, module: 3, in_the_sky: 0, code: "0x16100083", imminent: 0 }] }, { method: "hms", need_reply: 1 }),
      ),
    ],
    receive(topic, payload) {
      const body = readJson(payload);
      if (!body || typeof body.tid !== "string" || typeof body.bid !== "string") return [];
      if (topic === `thing/product/${sn}/services`) {
        const result = body.method === FAILING_SERVICE ? 1 : 0;
        return [answer("services_reply", body, result === 0 ? { result, output: { status: "ok" } } : { result })];
      }
      if (topic === `thing/product/${sn}/property/set`) {
        const changes = (body.data ?? {}) as Record<string, unknown>;
        dock.set(changes);
        // data.<property>.result per property: 0 ok (DJI Cloud API property/set_reply).
        const results = Object.fromEntries(Object.keys(changes).map((name) => [name, { result: 0 }]));
        return [answer("property/set_reply", body, results), frame(`thing/product/${sn}/state`, envelope(changes))];
      }
      // events_reply, status_reply, requests_reply: the platform's answers, nothing to do.
      return [];
    },
  };
}
