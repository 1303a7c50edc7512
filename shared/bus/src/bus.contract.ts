import { describe, expect, test } from "bun:test";
import { DEAD_LETTER_QUEUE, HEADERS, QUEUES } from "@umos/contracts";
import { InvalidInputError, NotFoundError, silentLogger, UnavailableError } from "@umos/runtime";
import { eventually } from "@umos/testkit";
import type { Bus, BusOptions } from "./bus";
import type { BusMessage, ConsumeOptions, Consumer } from "./message";

/** A broker of the test's own (a vhost, a temporary file) and the buses connected to it. */
export interface BrokerUnderTest {
  url: string;
  dispose(): Promise<void>;
}

export const CONTRACT_OPTIONS = {
  name: "bus-contract",
  queueType: "classic",
  prefetch: 50,
  reconnectInitialMs: 20,
  reconnectMaxMs: 200,
  maxAttempts: 3,
  log: silentLogger,
} satisfies Omit<BusOptions, "url">;

interface Scene {
  /** A bus on the test's broker; several share it as the services of a process do. */
  connect(): Promise<Bus>;
  collect(bus: Bus, options: ConsumeOptions, onMessage?: (m: BusMessage) => Promise<void>): Promise<Collected>;
}

interface Collected extends Consumer {
  messages: BusMessage[];
  bodies(): string[];
}

/**
 * What every bus behind `connectBus` promises, whatever carries it: run against RabbitMQ
 * (rabbitmq-contract.test.ts) and the embedded bus (embedded/embedded.test.ts) with the same cases.
 * Each case gets a broker of its own from `open`.
 */
export function busContract(name: string, open: () => Promise<BrokerUnderTest>, connect: (options: BusOptions) => Promise<Bus>): void {
  async function scene(run: (s: Scene) => Promise<void>): Promise<void> {
    const broker = await open();
    const buses: Bus[] = [];
    const consumers: Consumer[] = [];
    try {
      await run({
        async connect() {
          const bus = await connect({ ...CONTRACT_OPTIONS, url: broker.url });
          buses.push(bus);
          return bus;
        },
        async collect(bus, options, onMessage) {
          const messages: BusMessage[] = [];
          const consumer = await bus.consume(options, async (m) => {
            await onMessage?.(m);
            messages.push(m);
          });
          consumers.push(consumer);
          return { messages, bodies: () => messages.map((m) => m.body.toString()), stop: () => consumer.stop() };
        },
      });
    } finally {
      for (const consumer of consumers) await consumer.stop();
      for (const bus of buses) await bus.close();
      await broker.dispose();
    }
  }

  const body = (text: string) => Buffer.from(text);
  const until = (check: () => boolean, what: string) => eventually(check, 10_000, what);

  describe(`bus contract: ${name}`, () => {
    test("topic bindings: `*` is one word, `#` zero or more, on every queue of the topology", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const queues = {
          uplink: await s.collect(bus, { queue: QUEUES.uplink }),
          downlink: await s.collect(bus, { queue: QUEUES.downlink }),
          gateway: await s.collect(bus, { queue: QUEUES.gateway }),
          telemetry: await s.collect(bus, { queue: QUEUES.telemetry }),
          ws: await s.collect(bus, { queue: { wsInstance: "contract" } }),
        };
        const keys = [
          "iot.generic.device.property.report",
          "iot.tuya.device",
          "iot.dji.device.a.b.c",
          "iot.device.x",
          "iot.a.b.device.x",
          "iot.generic.devices.x",
          "xiot.generic.device.x",
          "iot.generic.service.service.call",
          "iot.generic.gateway.frame",
          "iot.dji.event.property.report",
          "iot.dji.event.event.report",
          "iot.dji.event.property.report.extra",
          "iot.dji.event.property",
          "iot.dji.event",
        ];
        for (const key of keys) await bus.publish(key, body(key));
        // Queues are FIFO: once a queue's end marker is in, everything routed to it before is too.
        const ends = ["iot.end.device.end", "iot.end.service.end", "iot.end.gateway.end", "iot.end.event.property.report"];
        for (const key of ends) await bus.publish(key, body("end"));
        for (const [queue, got] of Object.entries(queues)) await until(() => got.bodies().includes("end"), `end marker on ${queue}`);
        const routed = (c: Collected) => c.messages.filter((m) => !m.routingKey.startsWith("iot.end.")).map((m) => m.routingKey);
        expect(routed(queues.uplink)).toEqual(["iot.generic.device.property.report", "iot.tuya.device", "iot.dji.device.a.b.c"]);
        expect(routed(queues.downlink)).toEqual(["iot.generic.service.service.call"]);
        expect(routed(queues.gateway)).toEqual(["iot.generic.gateway.frame"]);
        expect(routed(queues.telemetry)).toEqual(["iot.dji.event.property.report", "iot.dji.event.event.report"]);
        expect(routed(queues.ws)).toEqual([
          "iot.dji.event.property.report",
          "iot.dji.event.event.report",
          "iot.dji.event.property.report.extra",
          "iot.dji.event.property",
          "iot.dji.event",
        ]);
      }), 30_000);

    test("a resolved publish is kept for a consumer that comes later; an unroutable one resolves and is dropped", () =>
      scene(async (s) => {
        const bus = await s.connect();
        await Promise.all(Array.from({ length: 100 }, (_, i) => bus.publish("iot.generic.device.x", body(`m${i}`))));
        await bus.publish("iot.generic.nowhere.x", body("lost"));
        const got = await s.collect(await s.connect(), { queue: QUEUES.uplink });
        await until(() => got.messages.length === 100, "the 100 published before the consumer came");
        expect(got.bodies()).not.toContain("lost");
      }), 30_000);

    test("an acked message is not delivered again, to this consumer or the next", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const first = await s.collect(bus, { queue: QUEUES.downlink });
        for (let i = 0; i < 10; i++) await bus.publish("iot.generic.service.call", body(`m${i}`));
        await until(() => first.messages.length === 10, "first delivery");
        await first.stop();
        const again = await s.collect(await s.connect(), { queue: QUEUES.downlink });
        await bus.publish("iot.generic.service.call", body("after"));
        await until(() => again.messages.length > 0, "the message published after");
        expect(again.bodies()).toEqual(["after"]);
        expect(first.messages.every((m) => !m.redelivered)).toBe(true);
      }), 30_000);

    test("a retryable failure is requeued and delivered again with redelivered set", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const seen: Array<[string, boolean]> = [];
        const got = await s.collect(bus, { queue: QUEUES.uplink }, async (m) => {
          seen.push([m.body.toString(), m.redelivered]);
          if (seen.length === 1) throw new Error("database hiccup");
        });
        await bus.publish("iot.generic.device.x", body("once"), { messageId: "retry-1" });
        await until(() => got.messages.length === 1, "handled on the second try");
        expect(seen).toEqual([
          ["once", false],
          ["once", true],
        ]);
      }), 30_000);

    test("prefetch bounds the deliveries in flight to one consumer", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const gates: Array<() => void> = [];
        let inFlight = 0;
        let most = 0;
        const got = await s.collect(bus, { queue: QUEUES.gateway, prefetch: 3 }, async () => {
          most = Math.max(most, ++inFlight);
          await new Promise<void>((resolve) => gates.push(resolve));
          inFlight--;
        });
        await Promise.all(Array.from({ length: 10 }, (_, i) => bus.publish("iot.generic.gateway.x", body(`m${i}`))));
        await until(() => gates.length === 3, "three in flight");
        await Bun.sleep(100); // a fourth would come now if prefetch did not hold it back
        expect(gates.length).toBe(3);
        gates.shift()!();
        await until(() => gates.length === 3 && got.messages.length === 1, "a fourth once one was acked");
        const release = setInterval(() => gates.splice(0).forEach((open) => open()), 5);
        await until(() => got.messages.length === 10, "all ten");
        clearInterval(release);
        expect(most).toBe(3);
      }), 30_000);

    test("a message that keeps failing is tried maxAttempts times, then dead-lettered as gave_up", () =>
      scene(async (s) => {
        const bus = await s.connect();
        let calls = 0;
        await s.collect(bus, { queue: QUEUES.gateway }, async () => {
          calls++;
          throw new Error("database hiccup");
        });
        const dead = await s.collect(bus, { queue: DEAD_LETTER_QUEUE });
        await bus.publish("iot.generic.gateway.x", body("flaky"), { messageId: "flaky-1" });
        await until(() => dead.messages.length === 1, "dead letter");
        expect(calls).toBe(CONTRACT_OPTIONS.maxAttempts);
        const [letter] = dead.messages;
        expect(letter!.messageId).toBe("flaky-1");
        expect(letter!.headers[HEADERS.deadLetterCode]).toBe("gave_up");
        expect(String(letter!.headers[HEADERS.deadLetterReason])).toContain("database hiccup");
        expect(letter!.headers[HEADERS.deadLetterQueue]).toBe(QUEUES.gateway);
      }), 30_000);

    test("a delivery that fails because a dependency is down waits the outage out: tried past maxAttempts, never dead-lettered", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const outageTries = CONTRACT_OPTIONS.maxAttempts + 2;
        let calls = 0;
        await s.collect(bus, { queue: QUEUES.gateway }, async () => {
          if (++calls <= outageTries) throw new UnavailableError("database unreachable");
        });
        const dead = await s.collect(bus, { queue: DEAD_LETTER_QUEUE });
        await bus.publish("iot.generic.gateway.x", body("patient"), { messageId: "outage-1" });
        await until(() => calls === outageTries + 1, "handled once the dependency is back");
        expect(dead.messages).toHaveLength(0);
      }), 30_000);

    test("a permanent failure is dead-lettered at once with code, reason and queue, and the consumer goes on", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const got = await s.collect(bus, { queue: QUEUES.uplink }, async (m) => {
          if (m.body.toString() === "bad") throw new InvalidInputError("invalid_frame", "payload is not a frame");
        });
        const dead = await s.collect(bus, { queue: DEAD_LETTER_QUEUE });
        await bus.publish("iot.generic.device.x", body("bad"), { messageId: "bad-1", contentType: "application/json", headers: { [HEADERS.deviceId]: "d1" } });
        await bus.publish("iot.generic.device.x", body("good"), { messageId: "good-1" });
        await until(() => dead.messages.length === 1 && got.bodies().includes("good"), "dead letter and the next message");
        const [letter] = dead.messages;
        expect(letter).toMatchObject({ routingKey: "iot.generic.device.x", messageId: "bad-1", contentType: "application/json" });
        expect(letter!.body.toString()).toBe("bad");
        expect(letter!.headers).toMatchObject({
          [HEADERS.deviceId]: "d1",
          [HEADERS.deadLetterCode]: "invalid_frame",
          [HEADERS.deadLetterReason]: "payload is not a frame",
          [HEADERS.deadLetterQueue]: QUEUES.uplink,
        });
        expect(got.bodies()).toEqual(["good"]);
      }), 30_000);

    test("every iot-ws replica's queue gets all event traffic and nothing else, and dies with its consumer", () =>
      scene(async (s) => {
        const publisher = await s.connect();
        const a = await s.collect(await s.connect(), { queue: { wsInstance: "a" } });
        const b = await s.collect(await s.connect(), { queue: { wsInstance: "b" } });
        await publisher.publish("iot.generic.device.x", body("raw"));
        await publisher.publish("iot.generic.event.property.report", body("e1"));
        await until(() => a.messages.length === 1 && b.messages.length === 1, "e1 on both replicas");
        expect([a.bodies(), b.bodies()]).toEqual([["e1"], ["e1"]]);
        await a.stop();
        await publisher.publish("iot.generic.event.property.report", body("e2"));
        await until(() => b.messages.length === 2, "e2 on the replica still up");
        const back = await s.collect(await s.connect(), { queue: { wsInstance: "a" } });
        await publisher.publish("iot.generic.event.property.report", body("e3"));
        await until(() => back.messages.length > 0, "e3 on the returning replica");
        // e2 came while replica a had no queue: live push has no backlog to replay.
        expect(back.bodies()).toEqual(["e3"]);
      }), 30_000);

    test("the telemetry queue exists once its consumer came, and keeps reports while it is away", () =>
      scene(async (s) => {
        const bus = await s.connect();
        await bus.publish("iot.generic.event.property.report", body("before"));
        const first = await s.collect(bus, { queue: QUEUES.telemetry });
        await bus.publish("iot.generic.event.property.report", body("r1"));
        await until(() => first.messages.length === 1, "r1");
        await first.stop();
        await bus.publish("iot.generic.event.event.report", body("r2"));
        await bus.publish("iot.generic.event.status.online", body("not a report"));
        const second = await s.collect(bus, { queue: QUEUES.telemetry });
        await until(() => second.messages.length === 1, "r2, kept while no consumer was there");
        expect([first.bodies(), second.bodies()]).toEqual([["r1"], ["r2"]]);
      }), 30_000);

    test("body bytes, headers, message id and content type arrive as published", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const got = await s.collect(bus, { queue: QUEUES.uplink });
        const payload = Buffer.from([0, 1, 2, 254, 255, 0x7b, 0x7d]);
        const headers = { [HEADERS.deviceId]: "d-1", [HEADERS.vendor]: "generic", [HEADERS.receivedAt]: 1_764_240_000_000, ratio: 1.5, flag: true };
        await bus.publish("iot.generic.device.property.report", payload, { messageId: "0190-abc", contentType: "application/octet-stream", headers });
        await bus.publish("iot.generic.device.property.report", body("bare"));
        await until(() => got.messages.length === 2, "both");
        const [full, bare] = got.messages;
        expect(full).toMatchObject({ routingKey: "iot.generic.device.property.report", messageId: "0190-abc", contentType: "application/octet-stream", redelivered: false });
        expect(Buffer.compare(full!.body, payload)).toBe(0);
        expect(full!.headers).toEqual(headers);
        expect(bare).toMatchObject({ messageId: undefined, contentType: undefined, headers: {} });
      }), 30_000);

    test("one queue delivers in publish order", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const count = 1000;
        await Promise.all(Array.from({ length: count }, (_, i) => bus.publish("iot.generic.service.x", body(String(i)))));
        const got = await s.collect(bus, { queue: QUEUES.downlink });
        await until(() => got.messages.length === count, "all");
        expect(got.bodies()).toEqual(Array.from({ length: count }, (_, i) => String(i)));
      }), 30_000);

    test("a publish for one queue reaches that queue alone; an unknown queue is refused", () =>
      scene(async (s) => {
        const bus = await s.connect();
        const uplink = await s.collect(bus, { queue: QUEUES.uplink });
        const ws = await s.collect(bus, { queue: { wsInstance: "replay" } });
        await bus.publish("iot.generic.event.property.report", body("replayed"), { queue: QUEUES.uplink });
        await until(() => uplink.messages.length === 1, "replayed message");
        expect(uplink.messages[0]!.routingKey).toBe("iot.generic.event.property.report");
        expect(uplink.messages[0]!.headers[HEADERS.replayQueue]).toBe(QUEUES.uplink);
        await expect(bus.publish("iot.generic.device.x", body("x"), { queue: "no-such-queue" })).rejects.toBeInstanceOf(NotFoundError);
        await bus.publish("iot.generic.event.property.report", body("live"));
        await until(() => ws.messages.length > 0, "the live event");
        expect(ws.bodies()).toEqual(["live"]);
      }), 30_000);
  });
}
