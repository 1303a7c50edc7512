import { FAILING_SERVICE, frame, readJson, type Answer, type DeviceBehaviour, type Frame } from "./behaviour";
import { FIRST_FIRMWARE, firmwareOf, updateFirmware, type Firmware, type FirmwareOptions } from "./ota";
import { messageIds, readings } from "./readings";

/** The service that updates a generic device's firmware (docs/protocols.md: Firmware updates). */
export const OTA_SERVICE = "ota";

export interface GenericOptions extends FirmwareOptions {
  /** Refuses every service call, as a broken unit in a fleet would: what a job's abort threshold is for. */
  failing?: boolean;
}

/**
 * A generic thermostat on the canonical protocol (docs/interfaces.md: Generic): reports `temperature`,
 * `humidity`, `target`, `mode` and `firmware_version`, raises `window_open`, answers every service
 * call and property set on `service/reply` with the command's `correlationId`, and has a last will
 * that marks it offline when its connection dies. The `ota` service downloads and installs firmware,
 * raising `ota.progress` events with the call's `correlationId` and reporting the new
 * `firmware_version` once done.
 */
export function genericDevice(id: string, clock: () => number = Date.now, options: GenericOptions = {}): DeviceBehaviour {
  const base = `generic/${id}`;
  const nextId = messageIds();
  const state = readings(
    { temperature: 21, humidity: 45, target: 21, mode: "eco", firmware_version: options.firmwareVersion ?? FIRST_FIRMWARE },
    { temperature: { min: 15, max: 30, step: 0.3, decimals: 1 }, humidity: { min: 20, max: 80, step: 1, decimals: 0 } },
  );
  const reply = (correlationId: string, code: number, data?: unknown): Frame =>
    frame(`${base}/service/reply`, { id: nextId(), ts: clock(), correlationId, code, ...(data === undefined ? {} : { data }) });
  const report = (data: Record<string, unknown>): Frame => frame(`${base}/property/report`, { id: nextId(), ts: clock(), data });

  const update = (correlationId: string, params: unknown): Answer => {
    const p = (params ?? {}) as Record<string, unknown>;
    const firmware = firmwareOf({ version: p.version, url: p.url, size: p.size, digest: p.sha256 }, "sha256");
    if ("message" in firmware) return { frames: [reply(correlationId, 1, firmware)] };
    return { frames: [reply(correlationId, 0, { accepted: true })], later: progress(correlationId, firmware) };
  };
  async function* progress(correlationId: string, firmware: Firmware): AsyncGenerator<Frame> {
    for await (const data of updateFirmware(firmware, options)) {
      yield frame(`${base}/event/report`, { id: nextId(), ts: clock(), event: "ota.progress", correlationId, data });
      if (data.state !== "done") continue;
      // The platform counts an update done when the device reports the new version.
      state.set({ firmware_version: firmware.version });
      yield report({ firmware_version: firmware.version });
    }
  }

  return {
    vendor: "generic",
    id,
    subscriptions: [`${base}/service/call`, `${base}/property/set`],
    will: frame(`${base}/status`, { state: "offline" }),
    announce: () => [frame(`${base}/status`, { state: "online" })],
    report: () => [report(state.next())],
    event: () => [frame(`${base}/event/report`, { id: nextId(), ts: clock(), event: "window_open", data: { room: "kitchen" } })],
    receive(topic, payload) {
      const body = readJson(payload);
      if (!body || typeof body.correlationId !== "string") return [];
      if (topic === `${base}/service/call`) {
        const service = String(body.service);
        if (service === FAILING_SERVICE) return [reply(body.correlationId, 1, { message: "the device refused the call" })];
        if (options.failing) return [reply(body.correlationId, 1, { message: "the device was told to fail" })];
        if (service === OTA_SERVICE) return update(body.correlationId, body.params);
        return [reply(body.correlationId, 0, { service, params: body.params ?? {}, doneAt: clock() })];
      }
      if (topic === `${base}/property/set`) {
        const changes = (body.data ?? {}) as Record<string, unknown>;
        state.set(changes);
        // A real device reports the values it now has, which is what clears the desired-state delta.
        return [reply(body.correlationId, 0), report(changes)];
      }
      return [];
    },
  };
}
