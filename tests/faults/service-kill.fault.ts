import { afterAll, beforeAll, describe, test } from "bun:test";
import type { ServiceName } from "@umos/testkit";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// Each service in turn is killed (SIGKILL: no drain, no goodbye) mid-stream and started again.
let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(() => rig?.dispose(), 30_000);

const kills: { service: ServiceName; wsLive: boolean }[] = [
  { service: "gateway", wsLive: true },
  { service: "uplink", wsLive: true },
  { service: "downlink", wsLive: true },
  // iot-ws's queue is its own and goes with it: a dashboard reconnects and reads the gap from the log.
  { service: "ws", wsLive: false },
  // Off the report's and the command's way: its queue keeps the events while it is down.
  { service: "rules", wsLive: true },
];

describe("a service killed mid-stream", () => {
  for (const { service, wsLive } of kills) {
    test(`iot-${service} SIGKILLed and restarted: no report lost or stored twice, every command acked`, async () => {
      const report = await runFaultStream(
        rig.ends,
        `iot-${service} SIGKILL`,
        async () => {
          await rig.platform.kill(service, "SIGKILL");
          await rig.platform.restart(service);
        },
        { tag: `kill-${service}` },
      );
      expectNoLoss(report, { wsLive });
    }, 120_000);
  }
});
