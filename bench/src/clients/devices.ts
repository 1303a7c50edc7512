import mqtt from "mqtt";

export interface DeviceFleet {
  readonly ids: readonly string[];
  /** Device `seq % size` reports a property frame at QoS 1. */
  report(seq: number, payload: Buffer): void;
  /** Every device answers each service call on its reply topic with code 0, as a generic device does. */
  answerCalls(): Promise<void>;
  /** The birth message of every device (README: presence), so commands are sent to them at once. */
  announceOnline(): Promise<void>;
  close(): Promise<void>;
}

/** Devices as real MQTT 5 clients (mqtt.js), one connection each, on the generic vendor's topics. */
export async function connectFleet(brokerUrl: string, ids: readonly string[]): Promise<DeviceFleet> {
  const clients = await Promise.all(
    ids.map((id) => mqtt.connectAsync(brokerUrl, { clientId: `bench-${id}`, protocolVersion: 5, reconnectPeriod: 0, clean: true })),
  );
  const onError = (err?: Error) => {
    if (err) console.error(`bench device: ${err.message}`);
  };
  return {
    ids,
    report(seq, payload) {
      const i = seq % clients.length;
      clients[i]!.publish(`generic/${ids[i]}/property/report`, payload, { qos: 1 }, onError);
    },
    async answerCalls() {
      await Promise.all(
        clients.map(async (client, i) => {
          client.on("message", (topic, payload) => {
            if (!topic.endsWith("/service/call")) return;
            const { correlationId } = JSON.parse(payload.toString()) as { correlationId: string };
            client.publish(`generic/${ids[i]}/service/reply`, JSON.stringify({ correlationId, code: 0 }), { qos: 1 }, onError);
          });
          await client.subscribeAsync(`generic/${ids[i]}/service/call`, { qos: 1 });
        }),
      );
    },
    async announceOnline() {
      await Promise.all(clients.map((client, i) => client.publishAsync(`generic/${ids[i]}/status`, '{"state":"online"}', { qos: 1 })));
    },
    async close() {
      await Promise.all(clients.map((client) => client.endAsync()));
    },
  };
}
