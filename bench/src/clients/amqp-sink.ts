import amqplib, { type ConsumeMessage } from "amqplib";

/**
 * An application on the far side of RabbitMQ: consumes a queue and hands over each body. Acks go
 * once per event-loop turn (`multiple`), the same for every relay compared, so the sink costs the
 * broker as little as it can and alike for each.
 */
export async function consumeQueue(url: string, queue: string, onBody: (body: Buffer) => void) {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  await channel.prefetch(2000);
  let last: ConsumeMessage | null = null;
  let closed = false;
  const ackTurn = () => {
    // Closing settles nothing: the queue is deleted with its vhost.
    if (!closed) channel.ack(last!, true);
    last = null;
  };
  await channel.consume(queue, (message) => {
    if (!message) return;
    if (!last) setImmediate(ackTurn);
    last = message;
    onBody(message.content);
  });
  return {
    close() {
      closed = true;
      return connection.close();
    },
  };
}
