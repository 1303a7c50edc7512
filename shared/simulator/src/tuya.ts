import { type Answer, FAILING_SERVICE, frame, readJson, type DeviceBehaviour, type Frame } from "./behaviour";
import { FIRST_FIRMWARE, firmwareOf, updateFirmware, type Firmware, type FirmwareOptions } from "./ota";
import { messageIds, readings } from "./readings";

/**
 * A Tuya smart plug on TuyaLink (docs/interfaces.md: Tuya): reports `{code: {value, time}}` with `sys.ack: 1`,
 * triggers `overload` events, answers `action/execute` on `execute_response` and `property/set` on
 * `set_response`, echoing the msgId. Values go on the wire as integers, as Tuya's `value` type does
 * (`cur_voltage` in 0.1 V: a thing model with `scale: 1` reads it in volts). No last will: Tuya's
 * protocol has none. Firmware updates come on TuyaLink's `ota/issue`; the plug reports its version on
 * `ota/firmware/report` (INIT when it comes online, UPDATE after an update) and its progress on
 * `ota/progress/report`. Tuya's document defines no failure report: a failed update reports
 * progress -1, which the platform reads as failed.
 */
export function tuyaPlug(id: string, clock: () => number = Date.now, options: FirmwareOptions = {}): DeviceBehaviour {
  const base = `tylink/${id}/thing`;
  const nextId = messageIds();
  const state = readings(
    { switch: true, cur_power: 60, cur_voltage: 2300, cur_current: 260 },
    {
      cur_power: { min: 0, max: 2000, step: 15, decimals: 0 },
      cur_voltage: { min: 2150, max: 2450, step: 5, decimals: 0 },
      cur_current: { min: 0, max: 9000, step: 40, decimals: 0 },
    },
  );
  const wire = (values: Record<string, unknown>) => {
    const time = clock();
    return Object.fromEntries(Object.entries(values).map(([code, value]) => [code, { value, time }]));
  };
  const report = (values: Record<string, unknown>): Frame =>
    frame(`${base}/property/report`, { msgId: nextId(), time: clock(), data: wire(values), sys: { ack: 1 } });
  const response = (suffix: string, msgId: string, code: number, data?: unknown): Frame =>
    frame(`${base}/${suffix}`, { msgId, time: clock(), code, ...(data === undefined ? {} : { data }) });
  const ota = `tylink/${id}/ota`;
  let firmwareVersion = options.firmwareVersion ?? FIRST_FIRMWARE;
  const versionReport = (bizType: "INIT" | "UPDATE"): Frame =>
    frame(`${ota}/firmware/report`, { msgId: nextId(), time: clock(), data: { bizType, otaChannel: [{ channel: 0, version: firmwareVersion }] } });
  const progressReport = (progress: number): Frame => frame(`${ota}/progress/report`, { msgId: nextId(), time: clock(), data: { channel: 0, progress } });

  /** `ota/issue`: no response on TuyaLink; the update's progress and its new version are the answer. */
  const update = (data: Record<string, unknown>): Answer => {
    const firmware = firmwareOf({ version: data.version, url: data.url, size: Number(data.size), digest: data.md5 }, "md5");
    if ("message" in firmware) return { frames: [progressReport(-1)] };
    return { frames: [], later: progress(firmware) };
  };
  async function* progress(firmware: Firmware): AsyncGenerator<Frame> {
    for await (const step of updateFirmware(firmware, options)) {
      if (step.state === "failed") {
        yield progressReport(-1);
        return;
      }
      // 100 only once installed: the platform reads 100 as done.
      yield progressReport(step.state === "done" ? 100 : Math.min(step.percent, 99));
      if (step.state !== "done") continue;
      firmwareVersion = firmware.version;
      yield versionReport("UPDATE");
    }
  }

  return {
    vendor: "tuya",
    id,
    subscriptions: [`${base}/action/execute`, `${base}/property/set`, `${base}/property/report_response`, `${base}/event/trigger_response`, `${ota}/issue`],
    // Tuya devices report their state and firmware when they come online; the platform marks them online from any frame.
    announce: () => [report(state.values), versionReport("INIT")],
    report: () => [report(state.next())],
    event: () => [
      frame(`${base}/event/trigger`, {
        msgId: nextId(),
        time: clock(),
        data: { eventCode: "overload", eventTime: clock(), outputParams: { power: state.values.cur_power } },
        sys: { ack: 1 },
      }),
    ],
    receive(topic, payload) {
      const body = readJson(payload);
      if (!body || typeof body.msgId !== "string") return [];
      if (topic === `${ota}/issue`) return update((body.data ?? {}) as Record<string, unknown>);
      if (topic === `${base}/action/execute`) {
        const call = (body.data ?? {}) as { actionCode?: unknown; inputParams?: unknown };
        if (call.actionCode === FAILING_SERVICE) return [response("action/execute_response", body.msgId, 1)];
        return [
          response("action/execute_response", body.msgId, 0, {
            actionCode: call.actionCode,
            outputParams: { done: true, inputParams: call.inputParams ?? {} },
          }),
        ];
      }
      if (topic === `${base}/property/set`) {
        const changes = (body.data ?? {}) as Record<string, unknown>;
        state.set(changes);
        return [response("property/set_response", body.msgId, 0), report(changes)];
      }
      // report_response, trigger_response: the platform's acknowledgements.
      return [];
    },
  };
}
