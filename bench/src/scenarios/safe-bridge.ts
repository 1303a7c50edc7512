import { resolve } from "node:path";
import { spawnReference } from "../reference/spawn";
import { openMqttRelay } from "./mqtt-relay";
import type { OpenRelay } from "./relay";

const QUEUE = "bench-bridge";

/**
 * The budgets' second reference: the safe mqtt.js + amqplib bridge (reference/safe-bridge.ts) in a
 * process of its own. It cannot sustain 2,000 msg/s, so its latency is read at 200 msg/s (docs/performance.md).
 */
export function openSafeBridge(): Promise<OpenRelay> {
  const relay = { id: "safeBridge", title: "mqtt.js + amqplib bridge, PUBACK after confirm (reference)", pacedRate: 200 };
  return openMqttRelay(relay, async ({ rabbitmqUrl, mqttUrl }) => {
    const bridge = await spawnReference("bridge", resolve(import.meta.dir, "../reference/safe-bridge.ts"), {
      BRIDGE_MQTT_URL: mqttUrl,
      BRIDGE_AMQP_URL: rabbitmqUrl,
      BRIDGE_QUEUE: QUEUE,
    });
    return { queue: QUEUE, processes: [bridge.process], stop: bridge.stop };
  });
}
