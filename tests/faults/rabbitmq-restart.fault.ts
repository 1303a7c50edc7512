import { afterAll, beforeAll, expect, test } from "bun:test";
import { startRabbitMQ, type PrivateRabbitMQ } from "@umos/testkit";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// A RabbitMQ node of the test's own, so that restarting it disturbs no one else's tests.
let node: PrivateRabbitMQ;
let rig: Rig;
beforeAll(async () => {
  node = await startRabbitMQ();
  rig = await startRig({ rabbitmq: { serviceUrl: node.url, testUrl: node.url } });
}, 90_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(async () => {
  await rig?.dispose();
  await node?.dispose();
}, 30_000);

test("RabbitMQ restarted mid-stream: no report lost or stored twice, every command acked", async () => {
  const report = await runFaultStream(
    rig.ends,
    "RabbitMQ restart",
    async () => {
      await node.shutdown();
      await node.start();
    },
    { tag: "rabbitmq-restart", seconds: 20 },
  );
  // iot-ws's queues are not durable (live push needs no disk): the dashboard fills its gap from the log.
  expectNoLoss(report, { wsLive: false });
  expect(report.recoverMs).toBeGreaterThan(0);
}, 180_000);
