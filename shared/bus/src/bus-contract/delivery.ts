import { expect, test } from "bun:test";
import { DEAD_LETTER_QUEUE, HEADERS, QUEUES } from "@umos/contracts";
import { InvalidInputError, UnavailableError } from "@umos/core";
import { body, CONTRACT_OPTIONS, until, type RunScene } from "./scene";

/** How a delivery is settled: acks, requeues, prefetch, retries, outages and dead letters. */
export function deliveryCases(scene: RunScene): void {
  test(
    "an acked message is not delivered again, to this consumer or the next",
    () =>
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
      }),
    30_000,
  );

  test(
    "stopping waits for the delivery in flight; one that fails meanwhile goes back to the queue for the next consumer",
    () =>
      scene(async (s) => {
        const bus = await s.connect();
        let open = () => {};
        let entered = false;
        const first = await s.collect(bus, { queue: QUEUES.downlink }, async () => {
          entered = true;
          await new Promise<void>((resolve) => (open = resolve));
          throw new Error("interrupted by the stop");
        });
        await bus.publish("iot.generic.service.call", body("in flight"), { messageId: "stop-1" });
        await until(() => entered, "the delivery in the handler");
        let stopped = false;
        const stopping = first.stop().then(() => (stopped = true));
        await Bun.sleep(100);
        expect(stopped).toBe(false);
        open();
        await stopping;
        const next = await s.collect(await s.connect(), { queue: QUEUES.downlink });
        await until(() => next.messages.length === 1, "the requeued delivery");
        expect([next.bodies(), next.messages[0]!.redelivered]).toEqual([["in flight"], true]);
      }),
    30_000,
  );

  test(
    "a retryable failure is requeued and delivered again with redelivered set",
    () =>
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
      }),
    30_000,
  );

  test(
    "prefetch bounds the deliveries in flight to one consumer",
    () =>
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
        const release = setInterval(() => {
          for (const open of gates.splice(0)) open();
        }, 5);
        await until(() => got.messages.length === 10, "all ten");
        clearInterval(release);
        expect(most).toBe(3);
      }),
    30_000,
  );

  test(
    "a message that keeps failing is tried maxAttempts times, then dead-lettered as gave_up",
    () =>
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
      }),
    30_000,
  );

  test(
    "a delivery that fails because a dependency is down waits the outage out: tried past maxAttempts, never dead-lettered",
    () =>
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
      }),
    30_000,
  );

  test(
    "a permanent failure is dead-lettered at once with code, reason and queue, and the consumer goes on",
    () =>
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
      }),
    30_000,
  );
}
