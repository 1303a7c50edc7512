import { FAILING_SERVICE, frame, readJson, type DeviceBehaviour, type Frame } from "./behaviour";
import { messageIds, readings } from "./readings";

/**
 * A Tuya smart plug on TuyaLink (docs/interfaces.md: Tuya): reports `{code: {value, time}}` with `sys.ack: 1`,
 * triggers `overload` events, answers `action/execute` on `execute_response` and `property/set` on
 * `set_response`, echoing the msgId. Values go on the wire as integers, as Tuya's `value` type does
 * (`cur_voltage` in 0.1 V: a thing model with `scale: 1` reads it in volts). No last will: Tuya's
 * protocol has none.
 */
export function tuyaPlug(id: string, clock: () => number = Date.now): DeviceBehaviour {
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

  return {
    vendor: "tuya",
    id,
    subscriptions: [`${base}/action/execute`, `${base}/property/set`, `${base}/property/report_response`, `${base}/event/trigger_response`],
    // Tuya devices report their state when they come online; the platform marks them online from any frame.
    announce: () => [report(state.values)],
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
