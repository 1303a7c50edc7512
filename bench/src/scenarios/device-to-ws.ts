import { closeAll, openWsClient } from "../clients/ws-client";
import type { Path } from "../load/path";
import { saturateThenPace } from "../load/phases";
import { reportPayload } from "../payload";
import { FLEET_SIZE, type PlatformScenario } from "./platform";

/**
 * Device -> WebSocket client through all five services: MQTT, gateway, uplink (decode, store,
 * republish), iot-ws. Its highest sustained rate, then its latency at 2,000 msg/s.
 */
export const deviceToWs: PlatformScenario = {
  id: "deviceToWs",
  async run({ stack, profile, processes, devices }) {
    const fleet = await devices("ws-", FLEET_SIZE);
    const path: Path = { send: (seq, stamp) => fleet.report(seq, reportPayload(stamp)), arrived: () => {} };
    const app = await openWsClient(stack.platform.wsUrl, stack.token, { devices: fleet.ids, kinds: ["property.report"] }, (text) => {
      const frame = JSON.parse(text) as { type: string; message?: { data: { t: number } } };
      if (frame.type === "message" && frame.message) path.arrived(frame.message.data.t);
    });
    try {
      const phases = await saturateThenPace(path, processes(), profile, 2000);
      return { id: "deviceToWs", title: "device -> WebSocket client (all five services)", phases };
    } finally {
      await closeAll([app]);
      await fleet.close();
    }
  },
};
