import { afterAll, beforeAll, expect, test } from "bun:test";
import amqplib from "amqplib";
import { QUEUES } from "@umos/contracts";
import { expectNoLoss } from "./expectations";
import { watchMemory } from "./memory";
import { startRig, type Rig } from "./rig";
import { openSlowReader } from "./slow-reader";
import { runFaultStream } from "./stream";

// Load with a consumer that cannot keep up: the work waits where it is bounded (a client's socket
// buffer, RabbitMQ's queue), never in a service's memory.
const MAX_BUFFERED_BYTES = 262_144;
/** Growth of a service's resident memory under the case's load that still counts as bounded. */
const MEMORY_GROWTH_LIMIT_MIB = 150;

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ postgresProxy: true, env: { UMOS_WS__MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) } });
}, 60_000);
// Services get their shutdown budget (10 s) to drain.
afterAll(() => rig?.dispose(), 30_000);

test("a WebSocket client that stops reading is cut off (1008) while the others get every report; iot-ws memory stays bounded", async () => {
  const slow = await openSlowReader(rig.ends.wsUrl, rig.ends.token, { kinds: ["property.report"] });
  const memory = watchMemory(() => rig.platform.pids.ws);
  const report = await runFaultStream(rig.ends, "slow WebSocket client", async () => {}, {
    tag: "slow-ws",
    devices: 4,
    rate: 100,
    padding: 2000,
    commandRate: 1,
  });
  const { startMiB, peakMiB } = memory.stop();
  const cut = await slow.drainUntilClosed(10_000);
  slow.destroy();
  console.log(
    `fault report | slow WebSocket client | iot-ws resident memory ${startMiB} -> peak ${peakMiB} MiB | slow client ended by the server: ${cut.ended} (close code ${cut.closeCode})`,
  );
  expectNoLoss(report);
  expect(cut.ended, "the server ended the slow client's connection").toBe(true);
  if (cut.closeCode !== null) expect(cut.closeCode, "closed as a policy violation (slow consumer)").toBe(1008);
  expect(peakMiB - startMiB, "iot-ws did not buffer for the slow client").toBeLessThan(MEMORY_GROWTH_LIMIT_MIB);
}, 120_000);

test("a slow database under load: reports queue in RabbitMQ, iot-uplink's memory stays bounded, and all are stored once", async () => {
  const memory = watchMemory(() => rig.platform.pids.uplink);
  const backlog = watchQueue(QUEUES.uplink);
  const stopProbes = async () => ({ ...memory.stop(), peakDepth: await backlog.stop() });
  const report = await runFaultStream(
    rig.ends,
    "slow database (100 ms per packet, 6 s)",
    async () => {
      rig.postgresProxy!.setDelay(100);
      await Bun.sleep(6000);
      rig.postgresProxy!.setDelay(0);
    },
    { tag: "slow-db", devices: 4, rate: 100, faultAt: 0.2 },
  ).catch(async (err) => {
    // A probe left running would load the machine under the cases after this one.
    await stopProbes();
    throw err;
  });
  const { startMiB, peakMiB, peakDepth } = await stopProbes();
  console.log(
    `fault report | slow database | iot-uplink resident memory ${startMiB} -> peak ${peakMiB} MiB | ${QUEUES.uplink} peak ${peakDepth} messages ready`,
  );
  expectNoLoss(report);
  expect(peakMiB - startMiB, "iot-uplink held no more than its prefetch").toBeLessThan(MEMORY_GROWTH_LIMIT_MIB);
}, 120_000);

/**
 * Peak depth of one of the rig's queues: the messages ready in it, read by a passive declare over
 * AMQP every 500 ms, one reading at a time. (rabbitmqctl starts an Erlang VM per call: sampled that
 * often, it took the machine's CPU from the services and made the case measure its own probe.)
 */
function watchQueue(queue: string) {
  let peak = 0;
  let stopped = false;
  const connection = amqplib.connect(rig.ends.rabbitmqUrl);
  const sampling = (async () => {
    const channel = await (await connection).createChannel();
    while (!stopped) {
      const { messageCount } = await channel.checkQueue(queue);
      peak = Math.max(peak, messageCount);
      await Bun.sleep(500);
    }
  })().catch(() => {
    // The rig went away under the probe: the case has failed already, and says why.
  });
  return {
    stop: async () => {
      stopped = true;
      await sampling;
      await connection.then((c) => c.close()).catch(() => {});
      return peak;
    },
  };
}
