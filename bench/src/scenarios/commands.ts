import { eventually } from "@umos/testkit";
import { closeAll, openWsClient } from "../clients/ws-client";
import type { Path } from "../load/path";
import { pace } from "../load/pace";
import { saturate } from "../load/saturate";
import type { PlatformScenario } from "./platform";

const DEVICES = 10;
/** Commands in flight while saturating: an application's worth, not the MQTT window of the relays. */
const WINDOW = 100;

interface StatusFrame {
  type: string;
  message?: { kind: string; data: { commandId: string; status: string } };
}

/**
 * Command REST -> device -> acked: an application POSTs a call, iot-downlink sends it through the
 * gateway, the device answers on its reply topic, and the application sees `acked` on its WebSocket
 * (docs/interfaces.md: command lifecycle). Latency from the POST to that event, at 200 commands/s.
 */
export const commands: PlatformScenario = {
  id: "commands",
  async run({ stack, profile, processes, devices }) {
    const fleet = await devices("cmd-", DEVICES);
    const { ids } = fleet;
    await fleet.answerCalls();
    await fleet.announceOnline();
    const online = async () => (await Promise.all(ids.map((id) => stack.api.get(`/api/v1/devices/${id}`)))).every((r) => r.body?.online === true);
    await eventually(online, 10_000, "command devices online");

    const stamps = new Map<string, number>();
    const earlyAcks = new Map<string, number>();
    const path: Path = {
      send(seq, stamp) {
        void stack.api.post(`/api/v1/devices/${ids[seq % DEVICES]}/commands`, { service: "ping" }).then((res) => {
          if (res.status !== 202) return console.error(`bench: command refused: ${res.status} ${JSON.stringify(res.body)}`);
          const id = res.body.id as string;
          const ackedAt = earlyAcks.get(id);
          if (ackedAt === undefined) return void stamps.set(id, stamp);
          earlyAcks.delete(id);
          path.arrived(stamp, ackedAt);
        });
      },
      arrived: () => {},
    };
    const app = await openWsClient(stack.platform.wsUrl, stack.token, { devices: ids, kinds: ["command.status"] }, (text) => {
      const frame = JSON.parse(text) as StatusFrame;
      if (frame.type !== "message" || frame.message?.data.status !== "acked") return;
      const id = frame.message.data.commandId;
      const stamp = stamps.get(id);
      // The event can outrun the 202: remember when it came until the POST tells us the command id.
      if (stamp === undefined) return void earlyAcks.set(id, performance.now());
      stamps.delete(id);
      path.arrived(stamp);
    });
    try {
      const { warmupSeconds, seconds } = profile;
      const saturation = await saturate(path, { window: WINDOW, warmupSeconds, seconds, processes: processes() });
      const paced = await pace(path, { rate: 200, warmupSeconds, seconds, processes: processes() });
      return { id: "commands", title: "command REST -> device -> acked, seen on WebSocket", phases: { saturation, paced } };
    } finally {
      await closeAll([app]);
      await fleet.close();
    }
  },
};
