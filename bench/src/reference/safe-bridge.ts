/**
 * The budgets' reference (docs/performance.md): the MQTT -> RabbitMQ bridge most users would write with mqtt.js and
 * amqplib, made safe by acknowledging each MQTT message only after RabbitMQ confirmed it. mqtt.js
 * sends the PUBACK when `handleMessage`'s callback runs and reads the next packet only then, so the
 * bridge moves one message per confirm round trip (docs/findings.md: ~750-930 msg/s).
 *
 * Run as its own process by the bench: BRIDGE_MQTT_URL, BRIDGE_AMQP_URL, BRIDGE_QUEUE; prints
 * "ready" once subscribed.
 */
import amqplib from "amqplib";
import mqtt from "mqtt";

const queue = process.env.BRIDGE_QUEUE!;
const amqp = await amqplib.connect(process.env.BRIDGE_AMQP_URL!);
const channel = await amqp.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });

const client = await mqtt.connectAsync(process.env.BRIDGE_MQTT_URL!, { clientId: "safe-bridge", protocolVersion: 5, clean: true, reconnectPeriod: 0 });
client.handleMessage = (packet, done) => {
  channel.publish("", queue, packet.payload as Buffer, { persistent: true }, (err: unknown) => done(err ? new Error(String(err)) : undefined));
};
await client.subscribeAsync("generic/+/property/report", { qos: 1 });
console.log("ready");

process.on("SIGTERM", async () => {
  await client.endAsync();
  await amqp.close();
  process.exit(0);
});
