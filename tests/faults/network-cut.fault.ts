import { afterAll, beforeAll, test } from "bun:test";
import { createVhost, RABBITMQ_HOST, startTcpProxy, type TcpProxy, type TestVhost } from "@umos/testkit";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// Every service reaches RabbitMQ through a proxy the test cuts: the network fails, the broker does not.
let vhost: TestVhost;
let proxy: TcpProxy;
let rig: Rig;
beforeAll(async () => {
  [vhost, proxy] = await Promise.all([createVhost(), startTcpProxy(Number(RABBITMQ_HOST.split(":")[1] ?? 5672))]);
  const proxied = new URL(vhost.url);
  proxied.port = String(proxy.port);
  rig = await startRig({ rabbitmq: { serviceUrl: proxied.toString(), testUrl: vhost.url } });
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(async () => {
  await rig?.dispose();
  await Promise.all([vhost?.dispose(), proxy?.stop()]);
}, 30_000);

test("the network to RabbitMQ cut for 3 s and restored: no report lost or stored twice, every command acked", async () => {
  const report = await runFaultStream(
    rig.ends,
    "network to RabbitMQ cut 3 s",
    async () => {
      proxy.cut();
      await Bun.sleep(3000);
      proxy.restore();
    },
    { tag: "rabbitmq-cut", seconds: 15 },
  );
  // Each iot-ws replica's queue is exclusive to its connection: a broken connection takes it along.
  expectNoLoss(report, { wsLive: false });
}, 120_000);
