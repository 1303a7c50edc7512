import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import { DEAD_LETTER_QUEUE, HEADERS, QUEUES } from "@umos/contracts";
import { InvalidInputError, silentLogger } from "@umos/core";
import { createVhost, eventually, rabbitmqctl, type TestVhost } from "@umos/testkit";
import { connectBus, type Bus, type BusMessage } from "./index";

let vhost: TestVhost;
let bus: Bus;

const options = (url: string) => ({
  url,
  name: "bus-test",
  queueType: "classic" as const,
  prefetch: 50,
  reconnectInitialMs: 50,
  reconnectMaxMs: 500,
  maxAttempts: 3,
  log: silentLogger,
});

beforeAll(async () => {
  vhost = await createVhost();
  bus = await connectBus(options(vhost.url));
});

afterAll(async () => {
  await bus.close();
  await vhost.dispose();
});

async function listBindings(name: string): Promise<string[]> {
  const out = await rabbitmqctl("list_bindings", "-p", name, "source_name", "destination_name", "routing_key", "--formatter", "json");
  const rows = JSON.parse(out) as { source_name: string; destination_name: string; routing_key: string }[];
  return rows
    .filter((r) => r.source_name !== "")
    .map((r) => `${r.source_name} -> ${r.destination_name} : ${r.routing_key}`)
    .sort();
}

async function getOne(queue: string): Promise<amqplib.GetMessage | false> {
  const conn = await amqplib.connect(vhost.url);
  const ch = await conn.createChannel();
  const msg = await ch.get(queue, { noAck: true });
  await conn.close();
  return msg;
}

describe("topology", () => {
  test("the exchanges, queues and bindings are exactly those of docs/design.md §2", async () => {
    const base = [
      "iot -> iot-uplink-queue : iot.*.device.#",
      "iot -> iot-downlink-queue : iot.*.service.#",
      "iot -> iot-gateway-queue : iot.*.gateway.#",
      "iot.dlx -> iot-dead-letter : #",
      // Headers bindings (replay-queue = the queue's own name): a replayed dead letter reaches one queue.
      "iot.replay -> iot-uplink-queue : ",
      "iot.replay -> iot-downlink-queue : ",
      "iot.replay -> iot-gateway-queue : ",
    ];
    // A feature queue exists only once its consumer came: with telemetry off, no copy of the reports piles up.
    expect(await listBindings(vhost.name)).toEqual([...base].sort());
    const consumer = await bus.consume({ queue: { wsInstance: "t1" } }, async () => {});
    const telemetry = await bus.consume({ queue: QUEUES.telemetry }, async () => {});
    expect(await listBindings(vhost.name)).toEqual(
      [
        ...base,
        "iot -> iot-ws-queue.t1 : iot.*.event.#",
        "iot -> iot-telemetry-queue : iot.*.event.property.report",
        "iot -> iot-telemetry-queue : iot.*.event.event.report",
        "iot.replay -> iot-telemetry-queue : ",
      ].sort(),
    );
    const exchanges = JSON.parse(await rabbitmqctl("list_exchanges", "-p", vhost.name, "name", "type", "durable", "--formatter", "json")) as {
      name: string;
      type: string;
      durable: boolean;
    }[];
    expect(exchanges.filter((e) => !e.name.startsWith("amq.") && e.name !== "")).toEqual(
      expect.arrayContaining([
        { name: "iot", type: "topic", durable: true },
        { name: "iot.dlx", type: "topic", durable: true },
        { name: "iot.replay", type: "headers", durable: true },
      ]),
    );
    const queues = JSON.parse(await rabbitmqctl("list_queues", "-p", vhost.name, "name", "durable", "exclusive", "--formatter", "json")) as {
      name: string;
      durable: boolean;
      exclusive: boolean;
    }[];
    const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
    expect(Object.keys(byName).sort()).toEqual([
      "iot-dead-letter",
      "iot-downlink-queue",
      "iot-gateway-queue",
      "iot-telemetry-queue",
      "iot-uplink-queue",
      "iot-ws-queue.t1",
    ]);
    expect(byName["iot-ws-queue.t1"]).toMatchObject({ durable: false, exclusive: true });
    expect(byName[QUEUES.uplink]).toMatchObject({ durable: true, exclusive: false });
    // Durable: reports wait here while the time-series server is down (docs/design.md §3).
    expect(byName[QUEUES.telemetry]).toMatchObject({ durable: true, exclusive: false });
    await Promise.all([consumer.stop(), telemetry.stop()]);
  }, 30_000); // each rabbitmqctl call starts an Erlang VM: about a second here, more on a loaded machine

  test("declaring the topology twice is harmless", async () => {
    const second = await connectBus(options(vhost.url));
    await second.close();
    // The work queues' four bindings and the telemetry queue's two, which outlive its consumer, and each one's replay binding.
    expect((await listBindings(vhost.name)).length).toBe(10);
  }, 15_000);
});

describe("publish to one queue (dead-letter replay)", () => {
  test("an event-stage message sent to one queue reaches that queue alone, with its routing key; an unknown queue is refused", async () => {
    const ws: BusMessage[] = [];
    const uplink: BusMessage[] = [];
    const live = await bus.consume({ queue: { wsInstance: "replay" } }, async (m) => void ws.push(m));
    const work = await bus.consume({ queue: QUEUES.uplink }, async (m) => void uplink.push(m));
    await bus.publish("iot.generic.event.property.report", Buffer.from("once"), {
      messageId: "r-1",
      queue: QUEUES.uplink,
      headers: { [HEADERS.deviceId]: "d1" },
    });
    await bus.publish("iot.generic.event.property.report", Buffer.from("fan-out"), { messageId: "r-2" });
    await eventually(() => ws.length === 1 && uplink.length === 1, 5000, "both delivered");
    expect(uplink[0]).toMatchObject({ routingKey: "iot.generic.event.property.report", messageId: "r-1" });
    expect(uplink[0]!.headers).toMatchObject({ [HEADERS.deviceId]: "d1", [HEADERS.replayQueue]: QUEUES.uplink });
    // The topic exchange's fan-out did not see the replayed message: the live queue has only the other one.
    expect(ws.map((m) => m.body.toString())).toEqual(["fan-out"]);
    // Nor did the other queues bound for replays (a binding argument starting with x- would match them all).
    expect(await getOne(QUEUES.downlink)).toBe(false);
    expect(await getOne(QUEUES.gateway)).toBe(false);
    await expect(bus.publish("iot.generic.device.status", Buffer.from("x"), { queue: "no-such-queue" })).rejects.toThrow("no queue 'no-such-queue'");
    await Promise.all([live.stop(), work.stop()]);
  });
});

describe("publish and consume", () => {
  test("many publishes in flight all confirm, and arrive with their metadata", async () => {
    const received: BusMessage[] = [];
    const consumer = await bus.consume({ queue: QUEUES.downlink }, async (m) => void received.push(m));
    const count = 2000;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        bus.publish("iot.generic.service.service.call", Buffer.from(`{"n":${i}}`), {
          messageId: `m-${i}`,
          contentType: "application/json",
          headers: { [HEADERS.deviceId]: "d1" },
        }),
      ),
    );
    await eventually(() => received.length === count, 10_000, "all messages consumed");
    expect(received[0]).toMatchObject({ routingKey: "iot.generic.service.service.call", messageId: "m-0", contentType: "application/json" });
    expect(received[0]!.headers[HEADERS.deviceId]).toBe("d1");
    expect(new Set(received.map((m) => m.messageId)).size).toBe(count);
    await consumer.stop();
  });

  test("a permanent failure is dead-lettered with its reason, and the consumer keeps serving", async () => {
    const ok: string[] = [];
    const consumer = await bus.consume({ queue: QUEUES.gateway }, async (m) => {
      if (m.body.toString() === "bad") throw new InvalidInputError("invalid_frame", "payload is not a frame");
      ok.push(m.body.toString());
    });
    await bus.publish("iot.generic.gateway.service.call", Buffer.from("bad"), { messageId: "bad-1" });
    await bus.publish("iot.generic.gateway.service.call", Buffer.from("good"), { messageId: "good-1" });
    await eventually(() => ok.includes("good"), 5000, "good message handled");
    const dead = await eventually(() => getOne(DEAD_LETTER_QUEUE), 5000, "dead letter present");
    expect(dead.content.toString()).toBe("bad");
    expect(dead.properties.messageId).toBe("bad-1");
    expect(dead.properties.headers?.[HEADERS.deadLetterCode]).toBe("invalid_frame");
    expect(dead.properties.headers?.[HEADERS.deadLetterReason]).toBe("payload is not a frame");
    expect(dead.properties.headers?.[HEADERS.deadLetterQueue]).toBe(QUEUES.gateway);
    await consumer.stop();
  });

  test("a message that keeps failing is retried, then dead-lettered instead of looping forever", async () => {
    let calls = 0;
    const consumer = await bus.consume({ queue: QUEUES.gateway }, async () => {
      calls++;
      throw new Error("database hiccup");
    });
    await bus.publish("iot.generic.gateway.x", Buffer.from("flaky"), { messageId: "flaky-1" });
    const dead = await eventually(() => getOne(DEAD_LETTER_QUEUE), 10_000, "dead letter present");
    expect(calls).toBe(3);
    expect(dead.properties.headers?.[HEADERS.deadLetterCode]).toBe("gave_up");
    expect(String(dead.properties.headers?.[HEADERS.deadLetterReason])).toContain("database hiccup");
    await consumer.stop();
  });
});

describe("a consumer's own attempt limit", () => {
  test("a consumer that may not give up keeps retrying past the bus's maxAttempts, and nothing is dead-lettered", async () => {
    let calls = 0;
    const consumer = await bus.consume({ queue: QUEUES.telemetry, maxAttempts: Infinity }, async () => {
      calls++;
      if (calls <= 5) throw new Error("time-series server down");
    });
    await bus.publish("iot.generic.event.property.report", Buffer.from("{}"), { messageId: "patient-1" });
    await eventually(() => calls === 6, 10_000, "handled on the sixth try");
    expect(await getOne(DEAD_LETTER_QUEUE)).toBe(false);
    await consumer.stop();
  }, 15_000);
});

describe("reconnection", () => {
  test("after the broker drops the connection, publishing and consuming resume", async () => {
    const local = await connectBus(options(vhost.url));
    const got: string[] = [];
    const consumer = await local.consume({ queue: QUEUES.uplink }, async (m) => void got.push(m.body.toString()));
    await local.publish("iot.generic.device.property.report", Buffer.from("before"));
    await eventually(() => got.includes("before"), 5000, "first message");
    await rabbitmqctl("close_all_connections", "--vhost", vhost.name, "test: broker restart");
    await eventually(() => !local.isConnected(), 5000, "disconnect noticed");
    await eventually(() => local.isConnected(), 10_000, "reconnected");
    await local.publish("iot.generic.device.property.report", Buffer.from("after"));
    await eventually(() => got.includes("after"), 5000, "message after reconnect");
    await consumer.stop();
    await local.close();
  });
});
