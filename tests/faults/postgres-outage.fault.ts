import { afterAll, beforeAll, test } from "bun:test";
import { expectNoLoss } from "./expectations";
import { startRig, type Rig } from "./rig";
import { runFaultStream } from "./stream";

// The services reach PostgreSQL through a proxy the test cuts; the shared server keeps running.
let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ postgresProxy: true });
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(() => rig?.dispose(), 30_000);

test("PostgreSQL unreachable for 15 s: reports wait in RabbitMQ, then all are stored once; every command acked", async () => {
  const report = await runFaultStream(
    rig.ends,
    "PostgreSQL unreachable 15 s",
    async () => {
      rig.postgresProxy!.cut();
      await Bun.sleep(15_000);
      rig.postgresProxy!.restore();
    },
    { tag: "postgres-outage", seconds: 20, faultAt: 0.2 },
  );
  expectNoLoss(report);
}, 150_000);
