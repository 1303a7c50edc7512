import { connectBus, type Bus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import { serveHealth, type Logger, type Service } from "@umos/runtime";
import { activeAdapters } from "@umos/vendors";
import { createDownlinkDelivery } from "./downlink-delivery";
import { openMqttConnection, type MqttConnection } from "./mqtt/connection";
import { createUplinkRelay } from "./uplink-relay";

export interface GatewayDeps {
  log: Logger;
}

export interface GatewayApp extends Service {
  /** The health port actually bound (config may ask for 0). */
  readonly port: number;
}

/** iot-gateway: the only MQTT client, bridging the MQTT broker and RabbitMQ both ways. */
export function createApp(config: UmosConfig, deps: GatewayDeps): GatewayApp {
  const { log } = deps;
  let bus: Bus | undefined;
  let connections: MqttConnection[] = [];
  let server: ReturnType<typeof serveHealth> | undefined;
  let stopConsumer: (() => Promise<void>) | undefined;

  const filters = activeAdapters.flatMap((adapter) => adapter.uplinkFilters);
  const subscriptions = config.mqtt.sharedSubscriptions ? filters.map((f) => `$share/${config.mqtt.sharedGroup}/${f}`) : filters;

  return {
    get port() {
      return server?.port ?? config.gateway.port;
    },

    async start() {
      bus = await connectBus({ ...config.rabbitmq, name: `iot-gateway@${config.instance}`, log: log.child("bus") });
      const relay = createUplinkRelay(bus, log);
      connections = Array.from({ length: config.gateway.connections }, (_, i) =>
        openMqttConnection({
          ...config.mqtt,
          // Stable across restarts, so the broker hands the persistent session (and its unacked frames) back.
          clientId: `iot-gateway-${config.instance}-${i}`,
          subscriptions,
          log: log.child("mqtt"),
          onPublish: (packet, ack) => relay.onPublish(connections[i]!, packet, ack),
        }),
      );
      const consumer = await bus.consume({ queue: QUEUES.gateway }, createDownlinkDelivery(connections, 10_000));
      stopConsumer = async () => {
        await consumer.stop();
        await relay.drain();
      };
      server = serveHealth({
        port: config.gateway.port,
        probes: [bus.probe, { name: "mqtt", check: () => connections.some((c) => c.connected) }],
      });
      log.info("iot-gateway ready", { port: server.port, subscriptions: subscriptions.length });
    },

    async stop() {
      server?.stop(true);
      // Stop reading devices first, then let in-flight confirms and PUBACKs finish.
      await stopConsumer?.();
      await Promise.all(connections.map((c) => c.close()));
      await bus?.close();
    },
  };
}
