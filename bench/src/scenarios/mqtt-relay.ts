import { createVhost, startMosquitto } from "@umos/testkit";
import { consumeQueue } from "../clients/amqp-sink";
import { connectFleet } from "../clients/devices";
import type { Path } from "../load/path";
import { reportPayload, stampOfReport } from "../payload";
import type { WatchedProcess } from "../stats/process-usage";
import { watched } from "../stats/watched";
import { cleanUp, type OpenRelay } from "./relay";

/** A bridge under test, started against its own broker and vhost. */
export interface Bridge {
  /** The queue the relayed frames land in. */
  queue: string;
  processes: WatchedProcess[];
  stop(): Promise<unknown>;
}

const DEVICES = 10;

/**
 * MQTT devices -> Mosquitto -> a bridge -> RabbitMQ -> a consumer of the bridge's queue, with a
 * Mosquitto and a vhost of its own (docs/findings.md: the packaged config drops QoS 1 messages).
 */
export async function openMqttRelay(
  relay: Pick<OpenRelay, "id" | "title" | "pacedRate">,
  startBridge: (endpoints: { rabbitmqUrl: string; mqttUrl: string }) => Promise<Bridge>,
): Promise<OpenRelay> {
  const [vhost, broker] = await Promise.all([createVhost(), startMosquitto()]);
  const cleanups: Array<() => Promise<unknown>> = [() => vhost.dispose(), () => broker.stop()];
  try {
    const bridge = await startBridge({ rabbitmqUrl: vhost.url, mqttUrl: broker.url });
    cleanups.unshift(() => bridge.stop());
    const fleet = await connectFleet(
      broker.url,
      Array.from({ length: DEVICES }, (_, i) => `relay-${i}`),
    );
    cleanups.unshift(() => fleet.close());
    const path: Path = { send: (seq, stamp) => fleet.report(seq, reportPayload(stamp)), arrived: () => {} };
    const sink = await consumeQueue(vhost.url, bridge.queue, (body) => path.arrived(stampOfReport(body)));
    cleanups.unshift(() => sink.close());
    const processes = [...bridge.processes, watched.mosquitto(broker.pid), watched.rabbitmq(), watched.bench()];
    return { ...relay, path, processes, close: () => cleanUp(cleanups) };
  } catch (err) {
    await cleanUp(cleanups);
    throw err;
  }
}
