import { describe, expect, test } from "bun:test";
import type { BusMessage } from "@umos/bus";
import { HEADERS } from "@umos/contracts";
import { ARCHIVE_PAYLOAD_BYTES, toDeadLetterRecord } from "./record";

const now = new Date("2026-01-02T03:04:05Z");
const message = (over: Partial<BusMessage> = {}): BusMessage => ({
  routingKey: "iot.generic.device.property.report",
  body: Buffer.from('{"data":1}'),
  headers: {
    [HEADERS.deadLetterCode]: "invalid_frame",
    [HEADERS.deadLetterReason]: "generic property.report frame: /data: Expected object",
    [HEADERS.deadLetterQueue]: "iot-uplink-queue",
    [HEADERS.deviceId]: "d-1",
  },
  messageId: "0190c0de-0000-7000-8000-000000000001",
  contentType: undefined,
  redelivered: false,
  ...over,
});

describe("a dead letter as a row", () => {
  test("UMOS's own: code, reason and queue from its headers, the device, the bytes", () => {
    expect(toDeadLetterRecord(message(), now)).toMatchObject({
      queue: "iot-uplink-queue",
      code: "invalid_frame",
      reason: "generic property.report frame: /data: Expected object",
      routingKey: "iot.generic.device.property.report",
      messageId: "0190c0de-0000-7000-8000-000000000001",
      contentType: null,
      deviceId: "d-1",
      payloadSize: 10,
      replayCount: 0,
      deadLetteredAt: now,
    });
  });

  test("RabbitMQ's own: the first death's queue and reason, and its time", () => {
    const record = toDeadLetterRecord(
      message({
        headers: { "x-first-death-queue": "iot-ws-queue.a", "x-first-death-reason": "expired", "x-death": [{ queue: "iot-ws-queue.a", time: 1_767_323_045 }] },
      }),
      now,
    );
    expect(record).toMatchObject({ queue: "iot-ws-queue.a", code: "rabbitmq_expired", reason: "RabbitMQ dead-lettered it from 'iot-ws-queue.a' (expired)" });
    expect(record.deadLetteredAt).toEqual(new Date(1_767_323_045_000));
  });

  test("the same message gives the same key (a redelivery is stored once); another death of it, another key", () => {
    expect(toDeadLetterRecord(message(), now).dedupeKey).toBe(toDeadLetterRecord(message({ redelivered: true }), new Date()).dedupeKey);
    const replayed = message({ headers: { ...message().headers, [HEADERS.replayCount]: 1 } });
    expect(toDeadLetterRecord(replayed, now).dedupeKey).not.toBe(toDeadLetterRecord(message(), now).dedupeKey);
    expect(toDeadLetterRecord(replayed, now).replayCount).toBe(1);
  });

  test("never throws, and keeps nothing PostgreSQL would refuse: NUL, lone surrogates, endless text, odd header types", () => {
    const record = toDeadLetterRecord(
      message({
        routingKey: "iot.x\u0000",
        headers: {
          [HEADERS.deadLetterReason]: `bad\u0000\ud800${"r".repeat(5000)}`,
          [HEADERS.deviceId]: "d".repeat(5000),
          bytes: Buffer.from([0xff, 0x00]),
          text: Buffer.from("plain"),
          big: 10n,
          when: new Date(0),
          nan: Number.NaN,
          deep: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } },
        },
      }),
      now,
    );
    expect(record.code).toBe("unknown");
    expect(record.queue).toBe("unknown");
    expect(record.routingKey).toBe("iot.x\uFFFD");
    expect(record.reason).toStartWith("bad\uFFFD\uFFFD");
    expect(record.reason.length).toBe(1024);
    expect(record.deviceId!.length).toBe(200);
    expect(record.headers).toMatchObject({ bytes: "/wA=", text: "plain", big: "10", when: "1970-01-01T00:00:00.000Z", nan: null });
    expect(JSON.stringify(record.headers)).not.toContain("\\u0000");
  });

  test("a cut body keeps its full size: from the gateway's header, or the archive's own limit", () => {
    expect(toDeadLetterRecord(message({ headers: { [HEADERS.originalSize]: 300_000 } }), now).payloadSize).toBe(300_000);
    const huge = toDeadLetterRecord(message({ body: Buffer.alloc(ARCHIVE_PAYLOAD_BYTES + 5) }), now);
    expect([huge.payload.byteLength, huge.payloadSize]).toEqual([ARCHIVE_PAYLOAD_BYTES, ARCHIVE_PAYLOAD_BYTES + 5]);
  });
});
