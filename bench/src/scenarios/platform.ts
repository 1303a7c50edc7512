import amqplib from "amqplib";
import { WORK_QUEUES } from "@umos/bus";
import { QUEUES } from "@umos/contracts";
import { eventually, startStack, type TestStack } from "@umos/testkit";
import { connectFleet, type DeviceFleet } from "../clients/devices";
import { created } from "../clients/rest";
import type { Profile, ScenarioResult } from "../results";
import type { WatchedProcess } from "../stats/process-usage";
import { watched } from "../stats/watched";

/**
 * Devices reporting in a platform scenario: a fleet, not a few chatty devices, so concurrent uplink
 * batches seldom write the same device's rows (docs/design.md §5: the uplink stores the latest state per device).
 */
export const FLEET_SIZE = 100;

/** What a scenario on the whole platform gets: the running stack and the processes to read. */
export interface PlatformContext {
  stack: TestStack;
  profile: Profile;
  /** The six services, the brokers, PostgreSQL and the bench, read afresh (PostgreSQL's backends change). */
  processes(): WatchedProcess[];
  /**
   * `count` generic devices named `<prefix><n>`, registered through the REST API (docs/interfaces.md: a device
   * must be registered first) and connected to the platform's MQTT broker. The scenario closes them.
   */
  devices(prefix: string, count: number): Promise<DeviceFleet>;
}

export interface PlatformScenario {
  id: string;
  run(context: PlatformContext): Promise<ScenarioResult>;
}

/**
 * Starts the six services as processes on a vhost, a database and a Mosquitto of their own
 * (testkit's startStack), runs the chosen scenarios one after another on it, and removes it all.
 * A scenario that fails is reported through `failed` and the next one runs.
 */
export async function runOnPlatform(
  scenarios: readonly PlatformScenario[],
  profile: Profile,
  failed: (id: string, err: unknown) => void,
): Promise<ScenarioResult[]> {
  const stack = await startStack();
  const context: PlatformContext = {
    stack,
    profile,
    processes: () => [
      ...Object.entries(stack.platform.pids).map(([name, pid]) => ({ name, pids: [pid] })),
      watched.mosquitto(stack.broker.pid),
      watched.rabbitmq(),
      watched.postgres(stack.database.name),
      watched.bench(),
    ],
    async devices(prefix, count) {
      const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
      for (const id of ids) await created(stack.api, "/api/v1/devices", { id, vendor: "generic" });
      return connectFleet(stack.broker.url, ids);
    },
  };
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      try {
        await settled(stack.vhost.url);
        results.push(await scenario.run(context));
      } catch (err) {
        failed(scenario.id, err);
      }
    }
  } finally {
    await stack.dispose();
  }
  return results;
}

/** iot-rules' queues besides the work queues: the stack runs it, and it declares them when it starts. */
const SETTLED_QUEUES = [...WORK_QUEUES.map((q) => q.queue), QUEUES.rules, QUEUES.notify];

/** Waits until the queues are empty, so a scenario does not pay for the backlog of the one before. */
export async function settled(vhostUrl: string): Promise<void> {
  const connection = await amqplib.connect(vhostUrl);
  try {
    const channel = await connection.createChannel();
    const backlog = async () => {
      let messages = 0;
      for (const queue of SETTLED_QUEUES) messages += (await channel.checkQueue(queue)).messageCount;
      return messages === 0;
    };
    await eventually(backlog, 300_000, "the platform's queues drained");
  } finally {
    await connection.close();
  }
}
