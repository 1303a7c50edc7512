import { resolve } from "node:path";
import { openMqttRelay } from "./mqtt-relay";
import type { OpenRelay } from "./relay";

const QUEUE = "bench-bridge";

/**
 * Issue 8's second reference: the safe mqtt.js + amqplib bridge (reference/safe-bridge.ts) in a
 * process of its own. It cannot sustain 2,000 msg/s, so its latency is read at 200 msg/s as in the issue.
 */
export function openSafeBridge(): Promise<OpenRelay> {
  const relay = { id: "safeBridge", title: "mqtt.js + amqplib bridge, PUBACK after confirm (reference)", pacedRate: 200 };
  return openMqttRelay(relay, async ({ rabbitmqUrl, mqttUrl }) => {
    const bridge = Bun.spawn(["bun", resolve(import.meta.dir, "../reference/safe-bridge.ts")], {
      env: { ...process.env, BRIDGE_MQTT_URL: mqttUrl, BRIDGE_AMQP_URL: rabbitmqUrl, BRIDGE_QUEUE: QUEUE },
      stdout: "pipe",
      stderr: "inherit",
    });
    await untilReady(bridge.stdout);
    return { queue: QUEUE, processes: [{ name: "bridge", pids: [bridge.pid] }], stop: async () => (bridge.kill("SIGTERM"), bridge.exited) };
  });
}

async function untilReady(stdout: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the safe bridge exited before it was ready");
    text += decoder.decode(value);
  }
  reader.releaseLock();
}
