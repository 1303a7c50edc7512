import { afterAll, beforeAll, test } from "bun:test";
import { POSTGRES_URL, startTcpProxy, type TcpProxy } from "@umos/testkit";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// The services reach PostgreSQL through a proxy the test cuts; the shared server keeps running.
let proxy: TcpProxy;
let rig: Rig;
beforeAll(async () => {
  proxy = await startTcpProxy(Number(new URL(POSTGRES_URL).port || 5432));
  rig = await startRig({ postgresPort: proxy.port });
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(async () => {
  await rig?.dispose();
  await proxy?.stop();
}, 30_000);

test("PostgreSQL unreachable for 15 s: reports wait in RabbitMQ, then all are stored once; every command acked", async () => {
  const report = await runFaultStream(
    rig.ends,
    "PostgreSQL unreachable 15 s",
    async () => {
      proxy.cut();
      await Bun.sleep(15_000);
      proxy.restore();
    },
    { tag: "postgres-outage", seconds: 20, faultAt: 0.2 },
  );
  expectNoLoss(report);
}, 150_000);
