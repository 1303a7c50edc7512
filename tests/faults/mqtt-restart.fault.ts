import { afterAll, beforeAll, test } from "bun:test";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// Mosquitto 2.0.11 keeps a persistent session's plain subscriptions over a restart but not its
// `$share/...` ones (measured: sessionPresent 1, yet nothing delivered until the client subscribes
// again), so reports published before the gateway's new SUBSCRIBE would have no subscriber. One
// gateway on Mosquitto therefore subscribes without `$share` (docs/guarantees.md).
let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ env: { UMOS_MQTT__SHARED_SUBSCRIPTIONS: "false" } });
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(() => rig?.dispose(), 30_000);

test("the MQTT broker restarted mid-stream: devices and the gateway reconnect, no report lost or stored twice, every command acked", async () => {
  const report = await runFaultStream(rig.ends, "MQTT broker restart", () => rig.broker.restart({ downMs: 1000 }), { tag: "mqtt-restart" });
  expectNoLoss(report);
}, 120_000);
