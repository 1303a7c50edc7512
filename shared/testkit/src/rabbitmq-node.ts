import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, rabbitmqctl, uid } from "./services";

export interface PrivateRabbitMQ {
  node: string;
  port: number;
  /** `amqp://guest:guest@127.0.0.1:<port>/`: the default vhost of a node no one else uses. */
  url: string;
  /** Shuts the node down (its durable queues and persistent messages stay on disk). */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Shuts it down and removes its data. */
  dispose(): Promise<void>;
}

/**
 * A RabbitMQ node of the test's own (its own name, ports, data and log directories, no plugins),
 * for tests that restart the broker: the shared node on 5672 carries everyone else's tests. Runs as
 * the rabbitmq user, so it shares the Erlang cookie `rabbitmqctl` uses; starting takes ~5 s.
 */
export async function startRabbitMQ(): Promise<PrivateRabbitMQ> {
  const node = `umos-fault-${uid()}@localhost`;
  const [port, distPort] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), "umos-rabbitmq-"));
  await Bun.write(join(dir, "enabled_plugins"), "[].\n");
  // The packaged /etc/rabbitmq/rabbitmq.conf binds 5672; this node reads its own.
  await Bun.write(join(dir, "rabbitmq.conf"), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  const user = Bun.spawnSync(["id", "-u", "rabbitmq"]).stdout.toString().trim();
  const group = Bun.spawnSync(["id", "-g", "rabbitmq"]).stdout.toString().trim();
  for (const path of [dir, join(dir, "enabled_plugins"), join(dir, "rabbitmq.conf")]) await chown(path, Number(user), Number(group));
  const env = [
    `RABBITMQ_NODENAME=${node}`,
    `RABBITMQ_NODE_PORT=${port}`,
    `RABBITMQ_DIST_PORT=${distPort}`,
    `RABBITMQ_CONFIG_FILE=${dir}/rabbitmq`,
    `RABBITMQ_MNESIA_BASE=${dir}/mnesia`,
    `RABBITMQ_LOG_BASE=${dir}/log`,
    `RABBITMQ_ENABLED_PLUGINS_FILE=${dir}/enabled_plugins`,
    `RABBITMQ_PID_FILE=${dir}/pid`,
  ].join(" ");

  const start = async () => {
    const server = Bun.spawn(
      ["su", "rabbitmq", "-s", "/bin/sh", "-c", `cd ${dir} && ${env} exec /usr/lib/rabbitmq/bin/rabbitmq-server >>${dir}/server.log 2>&1`],
      {
        stdout: "ignore",
        stderr: "ignore",
      },
    );
    // await_startup fails at once until the node has registered with epmd: ask again until it has.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await rabbitmqctl("-n", node, "await_startup", "--timeout", "60").then(
        () => true as const,
        (err: Error) => err,
      );
      if (ok === true) return;
      if (server.exitCode !== null || Date.now() > deadline) {
        await rabbitmqctl("-n", node, "shutdown").catch(() => ""); // it may come up after all: leave nothing behind
        throw new Error(
          `RabbitMQ node ${node} did not start: ${await Bun.file(join(dir, "server.log"))
            .text()
            .catch(() => ok.message)}`,
        );
      }
      await Bun.sleep(500);
    }
  };
  const shutdown = async () => void (await rabbitmqctl("-n", node, "shutdown").catch(() => ""));
  await start();
  return {
    node,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}/`,
    shutdown,
    start,
    dispose: async () => {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
