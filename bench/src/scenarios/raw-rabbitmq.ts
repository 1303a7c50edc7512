import amqplib from "amqplib";
import { createVhost } from "@umos/testkit";
import { consumeQueue } from "../clients/amqp-sink";
import type { Path } from "../load/path";
import { reportPayload, stampOfReport } from "../payload";
import { watched } from "../stats/watched";
import { cleanUp, type OpenRelay } from "./relay";

const QUEUE = "bench-ceiling";

/**
 * The broker's ceiling on this machine (the budgets' first reference): an amqplib publisher on a
 * confirm channel and a consumer, persistent messages on a durable classic queue, in a vhost of its own.
 */
export async function openRawRabbitmq(): Promise<OpenRelay> {
  const vhost = await createVhost();
  const cleanups: Array<() => Promise<unknown>> = [() => vhost.dispose()];
  try {
    const publisher = await amqplib.connect(vhost.url);
    cleanups.unshift(() => publisher.close());
    const channel = await publisher.createConfirmChannel();
    await channel.assertQueue(QUEUE, { durable: true });
    const onConfirm = (err: unknown) => {
      if (err) console.error(`bench: RabbitMQ nacked a publish: ${String(err)}`);
    };
    const path: Path = {
      send: (_seq, stamp) => void channel.publish("", QUEUE, reportPayload(stamp), { persistent: true }, onConfirm),
      arrived: () => {},
    };
    const sink = await consumeQueue(vhost.url, QUEUE, (body) => path.arrived(stampOfReport(body)));
    cleanups.unshift(() => sink.close());
    return {
      id: "rawRabbitmq",
      title: "RabbitMQ alone: amqplib publisher -> consumer (reference)",
      path,
      processes: [watched.rabbitmq(), watched.bench()],
      pacedRate: 2000,
      close: () => cleanUp(cleanups),
    };
  } catch (err) {
    await cleanUp(cleanups);
    throw err;
  }
}
