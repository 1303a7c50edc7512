import { FAILING_SERVICE, frame, readJson, type Answer, type DeviceBehaviour, type Frame } from "./behaviour";
import { FIRST_FIRMWARE, firmwareOf, updateFirmware, type Firmware, type FirmwareOptions } from "./ota";
import { messageIds, readings } from "./readings";

/** The aircraft a simulated dock holds: its serial number is the dock's with this suffix. */
export const aircraftOf = (dockSn: string) => `${dockSn}-aircraft`;

/** The service that updates a dock's or its aircraft's firmware (docs/protocols.md: Firmware updates). */
export const OTA_CREATE = "ota_create";

/** The `result` of a refused or failed update: any non-zero code; the simulator does not mimic DJI's error codes. */
const OTA_FAILED = 1;

/**
 * `output.progress.current_step` per step of an update, in the words of DJI's Cloud API docs for
 * `ota_progress`; the Cloud API demo's `OtaProgressStepEnum` sends 1 and 2 for the same two steps.
 */
const OTA_STEP = { downloading: "download_firmware", verifying: "download_firmware", installing: "upgrade_firmware" } as const;

/** A device of the dock an update installs on: its properties and its osd report. */
interface Unit {
  state: ReturnType<typeof readings>;
  osd: () => Frame;
}
type Update = { unit: Unit; firmware: Firmware };

/**
 * A DJI dock with one aircraft, on the DJI Cloud API topics (docs/interfaces.md: DJI Cloud API): announces the
 * aircraft with `update_topo` on `sys/product/{sn}/status`, reports its own osd and the aircraft's
 * (on the aircraft's SN, through the dock's connection), raises `hms` events with `need_reply`, and
 * answers `services` on `services_reply` and `property/set` on `property/set_reply`, echoing tid and
 * bid. Commands for the aircraft arrive on the dock's topics. DJI defines no last will: the platform
 * sees a silent dock go offline after `presence.silenceMs`. Both report `firmware_version` in their
 * osd; `ota_create` updates either or both, with `ota_progress` events on the task's bid. The
 * aircraft's osd waits for the answer to `update_topo` (`status_reply`): until the platform has
 * recorded the aircraft as the dock's, a frame for it is one the dock may not send, and a broker
 * that checks closes the connection for it.
 */
export function djiDock(sn: string, clock: () => number = Date.now, options: FirmwareOptions = {}): DeviceBehaviour {
  const aircraft = aircraftOf(sn);
  const nextId = messageIds();
  const firmware_version = options.firmwareVersion ?? FIRST_FIRMWARE;
  let aircraftKnown = false;
  const dock = readings(
    { mode_code: 1, cover_state: 0, drone_in_dock: 1, environment_temperature: 24, humidity: 40, night_lights_state: 0, height_limit: 120, firmware_version },
    { environment_temperature: { min: 10, max: 40, step: 0.5, decimals: 1 }, humidity: { min: 10, max: 90, step: 1, decimals: 0 } },
  );
  const drone = readings(
    { mode_code: 0, height: 0, capacity_percent: 100, latitude: 22.9078, longitude: 113.7034, firmware_version },
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
  const dockOsd = () => frame(`thing/product/${sn}/osd`, envelope(dock.next()));
  const aircraftOsd = () => {
    const { capacity_percent, ...aircraftValues } = drone.next();
    return frame(`thing/product/${aircraft}/osd`, envelope({ ...aircraftValues, battery: { capacity_percent } }));
  };
  /** What an update can install on, by SN. */
  const units = new Map<string, Unit>([
    [sn, { state: dock, osd: dockOsd }],
    [aircraft, { state: drone, osd: aircraftOsd }],
  ]);

  const otaCreate = (call: Record<string, unknown>): Answer => {
    const refused = { frames: [answer("services_reply", call, { result: OTA_FAILED })] };
    const devices = (call.data as { devices?: unknown } | null)?.devices;
    if (!Array.isArray(devices)) return refused;
    const updates: Update[] = [];
    for (const entry of devices as (Record<string, unknown> | null)[]) {
      const unit = units.get(String(entry?.sn));
      // Another device's entry is not this dock's to install.
      if (!entry || !unit) continue;
      const firmware = firmwareOf({ version: entry.product_version, url: entry.file_url, size: entry.file_size, digest: entry.md5 }, "md5");
      if ("message" in firmware) return refused;
      updates.push({ unit, firmware });
    }
    if (updates.length === 0) return refused;
    return { frames: [answer("services_reply", call, { result: 0 })], later: progress(String(call.bid), updates) };
  };
  /** One task's progress over its devices, updated one after the other; its events carry the task's bid. */
  async function* progress(bid: string, updates: Update[]): AsyncGenerator<Frame> {
    const event = (result: number, status: string, percent: number, current_step: string) =>
      frame(
        `thing/product/${sn}/events`,
        envelope({ result, output: { status, progress: { percent, current_step } } }, { bid, method: "ota_progress", need_reply: 0 }),
      );
    let step: string = OTA_STEP.downloading;
    for (const [i, { unit, firmware }] of updates.entries()) {
      for await (const update of updateFirmware(firmware, options)) {
        const percent = Math.floor((i * 100 + update.percent) / updates.length);
        if (update.state === "failed") {
          yield event(OTA_FAILED, "failed", percent, step);
          return;
        }
        if (update.state === "done") {
          unit.state.set({ firmware_version: firmware.version });
          continue;
        }
        step = OTA_STEP[update.state];
        yield event(0, "in_progress", percent, step);
      }
    }
    yield event(0, "ok", 100, OTA_STEP.installing);
    // The platform counts an update done when the device reports the new version.
    for (const { unit } of updates) yield unit.osd();
  }

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
    report: () => (aircraftKnown ? [dockOsd(), aircraftOsd()] : [dockOsd()]),
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
        if (body.method === OTA_CREATE) return otaCreate(body);
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
      if (topic === `sys/product/${sn}/status_reply` && body.method === "update_topo") aircraftKnown = true;
      // events_reply, requests_reply: the platform's answers, nothing to do.
      return [];
    },
  };
}
