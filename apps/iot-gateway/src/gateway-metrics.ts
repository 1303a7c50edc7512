import type { Metrics } from "@umos/observability";
import type { MqttConnection } from "./mqtt/connection";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The gateway's own figures: how long it holds a frame each way, and how many it holds. Timing
 * wraps the acknowledgement the relay already calls, so the hot path gains one closure per frame.
 */
export function gatewayMetrics(metrics: Metrics, connections: readonly MqttConnection[], relay: { readonly inFlight: number }) {
  const latency = metrics.histogram(
    "iot_gateway_relay_latency_seconds",
    "uplink: a device frame read off MQTT until it is safe (RabbitMQ's confirm or the spool's write; then its PUBACK leaves at QoS 1); downlink: a frame taken from RabbitMQ until the broker's PUBACK",
    LATENCY_BUCKETS,
    ["direction"],
  );
  metrics.gaugeOf("iot_gateway_messages_in_flight", "QoS 1 device frames read off MQTT and not yet acknowledged", () =>
    connections.reduce((sum, c) => sum + c.unacked, 0),
  );
  metrics.gaugeOf("iot_gateway_messages_unconfirmed", "Device frames published to RabbitMQ and not yet confirmed", () => relay.inFlight);
  const uplink = latency.labels({ direction: "uplink" });
  const downlink = latency.labels({ direction: "downlink" });

  return {
    /** The frame's acknowledgement, timed from now. */
    timedAck(ack: () => void): () => void {
      const started = performance.now();
      return () => {
        ack();
        uplink.observe((performance.now() - started) / 1000);
      };
    },
    async timedDelivery(deliver: () => Promise<void>): Promise<void> {
      const started = performance.now();
      await deliver();
      downlink.observe((performance.now() - started) / 1000);
    },
  };
}
