import { expect, test } from "bun:test";
import { HEADERS, QUEUES } from "@umos/contracts";
import { NotFoundError } from "@umos/core";
import { body, until, type Collected, type RunScene } from "./scene";

/** Where a published message goes: bindings, feature and replica queues, single-queue replays, what arrives. */
export function routingCases(scene: RunScene): void {
  test(
    "topic bindings: `*` is one word, `#` zero or more, on every queue of the topology",
    () =>
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
      }),
    30_000,
  );

  test(
    "a resolved publish is kept for a consumer that comes later; an unroutable one resolves and is dropped",
    () =>
      scene(async (s) => {
        const bus = await s.connect();
        await Promise.all(Array.from({ length: 100 }, (_, i) => bus.publish("iot.generic.device.x", body(`m${i}`))));
        await bus.publish("iot.generic.nowhere.x", body("lost"));
        const got = await s.collect(await s.connect(), { queue: QUEUES.uplink });
        await until(() => got.messages.length === 100, "the 100 published before the consumer came");
        expect(got.bodies()).not.toContain("lost");
      }),
    30_000,
  );

  test(
    "every iot-ws replica's queue gets all event traffic and nothing else, and dies with its consumer",
    () =>
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
      }),
    30_000,
  );

  test(
    "the telemetry queue exists once its consumer came, and keeps reports while it is away",
    () =>
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
      }),
    30_000,
  );

  test(
    "body bytes, headers, message id and content type arrive as published",
    () =>
      scene(async (s) => {
        const bus = await s.connect();
        const got = await s.collect(bus, { queue: QUEUES.uplink });
        const payload = Buffer.from([0, 1, 2, 254, 255, 0x7b, 0x7d]);
        const headers = { [HEADERS.deviceId]: "d-1", [HEADERS.vendor]: "generic", [HEADERS.receivedAt]: 1_764_240_000_000, ratio: 1.5, flag: true };
        await bus.publish("iot.generic.device.property.report", payload, { messageId: "0190-abc", contentType: "application/octet-stream", headers });
        await bus.publish("iot.generic.device.property.report", body("bare"));
        await until(() => got.messages.length === 2, "both");
        const [full, bare] = got.messages;
        expect(full).toMatchObject({
          routingKey: "iot.generic.device.property.report",
          messageId: "0190-abc",
          contentType: "application/octet-stream",
          redelivered: false,
        });
        expect(Buffer.compare(full!.body, payload)).toBe(0);
        expect(full!.headers).toEqual(headers);
        expect(bare).toMatchObject({ messageId: undefined, contentType: undefined, headers: {} });
      }),
    30_000,
  );

  test(
    "one queue delivers in publish order",
    () =>
      scene(async (s) => {
        const bus = await s.connect();
        const count = 1000;
        await Promise.all(Array.from({ length: count }, (_, i) => bus.publish("iot.generic.service.x", body(String(i)))));
        const got = await s.collect(bus, { queue: QUEUES.downlink });
        await until(() => got.messages.length === count, "all");
        expect(got.bodies()).toEqual(Array.from({ length: count }, (_, i) => String(i)));
      }),
    30_000,
  );

  test(
    "a publish for one queue reaches that queue alone; an unknown queue is refused",
    () =>
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
      }),
    30_000,
  );
}
