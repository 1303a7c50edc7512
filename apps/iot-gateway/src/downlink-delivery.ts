import type { BusMessage } from "@umos/bus";
import { HEADERS } from "@umos/contracts";
import { InvalidInputError, UnavailableError } from "@umos/core";
import type { MqttConnection } from "./mqtt/connection";
import type { MqttTracing } from "./mqtt-tracing";

/**
 * RabbitMQ -> device: iot-downlink has already encoded the vendor frame and named its MQTT topic in
 * `x-mqtt-topic`; the gateway publishes the bytes at QoS 1 and the delivery is acked on RabbitMQ
 * only after the broker's PUBACK.
 */
export function createDownlinkDelivery(connections: readonly MqttConnection[], waitForBrokerMs: number, tracing: MqttTracing) {
  let next = 0;

  async function pickConnection(): Promise<MqttConnection> {
    const deadline = Date.now() + waitForBrokerMs;
    for (;;) {
      for (let i = 0; i < connections.length; i++) {
        const candidate = connections[(next + i) % connections.length]!;
        if (candidate.connected) {
          next = (next + i + 1) % connections.length;
          return candidate;
        }
      }
      if (Date.now() > deadline) throw new UnavailableError(`MQTT broker unreachable for ${waitForBrokerMs} ms`);
      await Bun.sleep(50);
    }
  }

  return async function deliver(message: BusMessage): Promise<void> {
    const topic = message.headers[HEADERS.mqttTopic];
    if (typeof topic !== "string" || topic.length === 0 || /[+#]/.test(topic)) {
      throw new InvalidInputError("invalid_topic", `downlink frame without a publishable ${HEADERS.mqttTopic} header`);
    }
    const connection = await pickConnection();
    await tracing.sent(topic, (userProperties) => connection.publish(topic, message.body, userProperties));
  };
}
