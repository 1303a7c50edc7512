import type { Bus } from "@umos/bus";
import type { GatewayConfig } from "@umos/config";
import { gatewayClientId, QUEUES } from "@umos/contracts";
import { recentlySeen } from "@umos/observability";
import { serveHealth, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { activeAdapters } from "@umos/vendors";
import { createDownlinkDelivery } from "./downlink-delivery";
import { gatewayMetrics } from "./gateway-metrics";
import { openMqttConnection, type MqttConnection } from "./mqtt/connection";
import { mqttTracing } from "./mqtt-tracing";
import { openGatewaySpool } from "./spool/gateway-spool";
import { createDirectSink } from "./direct-sink";
import { createUplinkRelay } from "./uplink-relay";

/** How long a downlink frame waits for a lost MQTT connection before it is requeued. */
const DOWNLINK_BROKER_WAIT_MS = 10_000;

/** iot-gateway: the only MQTT client, bridging the MQTT broker and RabbitMQ both ways. */
export function createApp(config: GatewayConfig, { log, obs, clock, bus }: AppDeps & { bus: Bus }): App {
  const filters = activeAdapters.flatMap((adapter) => adapter.uplinkFilters);
  const subscriptions = config.mqtt.sharedSubscriptions ? filters.map((f) => `$share/${config.mqtt.sharedGroup}/${f}`) : filters;

  return serviceApp(log, config.gateway.port, async (resources) => {
    // With a spool, frames go through it while RabbitMQ is out of reach (edge store and forward).
    const sink = config.gateway.spool.enabled
      ? resources.use(openGatewaySpool(config.gateway.spool, bus, log, obs.metrics), (s) => s.close(), "the spool")
      : createDirectSink(bus, log);
    const devices = recentlySeen(config.presence.silenceMs, clock);
    obs.metrics.countDevicesSeen(devices.count);
    const relay = createUplinkRelay({ sink, maxPayloadBytes: config.gateway.maxPayloadBytes, onDevice: devices.seen, clock });
    const tracing = mqttTracing(obs);
    const connections: MqttConnection[] = [];
    const figures = gatewayMetrics(obs.metrics, connections, relay);
    for (let i = 0; i < config.gateway.connections; i++) {
      const connection = openMqttConnection({
        ...config.mqtt,
        // Stable across restarts, so the broker hands the persistent session (and its unacked frames) back.
        clientId: gatewayClientId(config.instance, i),
        subscriptions,
        log: log.child("mqtt"),
        onPublish: (packet, ack) => tracing.received(packet, () => relay.onPublish(connection, packet, figures.timedAck(ack))),
      });
      // Closed after the relay drained: in-flight frames still need their PUBACKs.
      resources.use(connection, (c) => c.close(), `MQTT connection ${i}`);
      connections.push(connection);
    }
    resources.use(relay, (r) => r.drain(), "the relay's frames in flight");
    const deliver = createDownlinkDelivery(connections, DOWNLINK_BROKER_WAIT_MS, tracing);
    resources.use(
      await bus.consume({ queue: QUEUES.gateway }, (message) => figures.timedDelivery(() => deliver(message))),
      (c) => c.stop(),
      "the consumer of iot-gateway-queue",
    );
    const probes = [bus.probe, { name: "mqtt", check: () => connections.some((c) => c.connected) }];
    const server = resources.use(
      serveHealth({ host: config.gateway.host, port: config.gateway.port, allowedHosts: config.allowedHosts, probes, metrics: obs.metrics }),
      (s) => s.stop(true),
      "the HTTP server",
    );
    log.info("iot-gateway ready", { port: server.port, subscriptions: subscriptions.length });
    return server.port!;
  });
}
