import { watchMessageLog } from "../clients/message-log";
import type { Path } from "../load/path";
import { pace } from "../load/pace";
import { saturate } from "../load/saturate";
import { reportPayload } from "../payload";
import { FLEET_SIZE, type PlatformScenario } from "./platform";

/** The devices whose rows the latency probe follows: a tenth of the traffic. */
const PROBED = 10;
/** Polls of the whole log that count stored rows while saturating; often enough for the credit loop. */
const COUNT_EVERY_MS = 50;

/**
 * Device -> message log: frames stored by iot-uplink, as the REST API reads them. Full rate from
 * the growth of the row count; latency at 2,000 msg/s from a probe that polls the rows of a tenth
 * of the devices. The uplink stores before it republishes, so device -> WebSocket bounds it too.
 */
export const deviceToLog: PlatformScenario = {
  id: "deviceToLog",
  async run({ stack, profile, processes, devices }) {
    const fleet = await devices("log-", FLEET_SIZE);
    const { ids } = fleet;
    const log = watchMessageLog(stack.database.url);
    const path: Path = { send: (seq, stamp) => fleet.report(seq, reportPayload(stamp)), arrived: () => {} };
    const { warmupSeconds, seconds } = profile;
    try {
      let counting = true;
      let stored = 0;
      const counter = (async () => {
        while (counting) {
          const now = await log.count(ids);
          for (; stored < now; stored++) path.arrived(0);
          await Bun.sleep(COUNT_EVERY_MS);
        }
      })();
      const saturation = await saturate(path, { window: profile.window, warmupSeconds, seconds, processes: processes() });
      counting = false;
      await counter;

      // fleet.report sends message seq from device seq % FLEET_SIZE: the probed devices send a tenth of them.
      const tracked = (seq: number) => seq % FLEET_SIZE < PROBED;
      const pending = pendingStamps();
      const send = path.send;
      path.send = (seq, stamp) => {
        send(seq, stamp);
        if (tracked(seq)) pending.add(stamp);
      };
      const probe = log.probe(ids.slice(0, PROBED), pending.oldest, (stamp, at) => {
        pending.arrived(stamp);
        path.arrived(stamp, at);
      });
      const paced = await pace(path, { rate: 2000, warmupSeconds, seconds, processes: processes(), tracked });
      await probe.stop();
      return { id: "deviceToLog", title: "device -> message log (stored by iot-uplink)", phases: { saturation, paced } };
    } finally {
      await log.close();
      await fleet.close();
    }
  },
};

/** Stamps sent and not yet seen in the log, oldest first (they are sent in stamp order). */
function pendingStamps() {
  const stamps: number[] = [];
  const seen = new Set<number>();
  let head = 0;
  return {
    add: (stamp: number) => void stamps.push(stamp),
    arrived(stamp: number) {
      seen.add(stamp);
      while (head < stamps.length && seen.has(stamps[head]!)) head++;
    },
    oldest: () => (head < stamps.length ? stamps[head]! : performance.now()),
  };
}
