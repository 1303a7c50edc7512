import { QUEUES } from "@umos/contracts";
import { startPlatform } from "@umos/testkit";
import { openMqttRelay } from "./mqtt-relay";
import type { OpenRelay } from "./relay";

/**
 * iot-gateway alone between Mosquitto and RabbitMQ, as a process: devices publish, a consumer of
 * iot-uplink-queue plays iot-uplink. The path the two references bound from above and below.
 */
export function openGatewayRelay(): Promise<OpenRelay> {
  const relay = { id: "gatewayRelay", title: "iot-gateway relay: MQTT device -> gateway -> RabbitMQ consumer", pacedRate: 2000 };
  return openMqttRelay(relay, async (endpoints) => {
    const platform = await startPlatform({ busUrl: endpoints.rabbitmqUrl, mqttUrl: endpoints.mqttUrl }, {}, ["gateway"]);
    return { queue: QUEUES.uplink, processes: [{ name: "gateway", pids: [platform.pids.gateway!] }], stop: () => platform.stop() };
  });
}
