import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSpool, type SpooledFrame } from "./spool";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "umos-spool-unit-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const frame = (seq: number, payload = `{"n":${seq}}`): SpooledFrame => ({
  seq,
  routingKey: "iot.generic.device.property.report",
  messageId: `m-${seq}`,
  headers: { "x-device-id": "d1", "x-received-at": 1000 + seq },
  payload: Buffer.from(payload),
});

test("frames come out in arrival order, whatever order they were written in, bytes and headers intact", () => {
  const spool = openSpool(join(dir, "s.db"), { maxMessages: 100, maxBytes: 1 << 20 });
  spool.append([frame(3), frame(4)]);
  spool.append([frame(1), { ...frame(2), deadLetter: { code: "unroutable_topic", reason: "no adapter" } }]);
  const out = spool.peek(10);
  expect(out.map((f) => f.seq)).toEqual([1, 2, 3, 4]);
  expect(out[0]!.payload.toString()).toBe('{"n":1}');
  expect(out[0]!.headers).toEqual({ "x-device-id": "d1", "x-received-at": 1001 });
  expect(out[1]!.deadLetter).toEqual({ code: "unroutable_topic", reason: "no adapter" });
  expect(out[0]!.deadLetter).toBeUndefined();
  spool.removeThrough(2);
  expect(spool.peek(10).map((f) => f.seq)).toEqual([3, 4]);
  expect(spool.size()).toBe(2);
  spool.close();
});

test("a reopened spool holds what was written before, and numbering carries on after it", () => {
  const path = join(dir, "s.db");
  const first = openSpool(path, { maxMessages: 100, maxBytes: 1 << 20 });
  first.append([frame(7), frame(8, "xx")]);
  first.close();
  const again = openSpool(path, { maxMessages: 100, maxBytes: 1 << 20 });
  expect(again.size()).toBe(2);
  expect(again.bytes()).toBe('{"n":7}'.length + 2);
  expect(again.nextSeq()).toBe(9);
  again.close();
});

test("room is bounded by messages and bytes, and an empty spool takes one frame of any size", () => {
  const spool = openSpool(join(dir, "s.db"), { maxMessages: 3, maxBytes: 100 });
  expect(spool.hasRoom(1, 500)).toBe(true);
  expect(spool.hasRoom(2, 10)).toBe(true);
  spool.append([frame(1), frame(2)]);
  expect(spool.hasRoom(1, 10)).toBe(true);
  expect(spool.hasRoom(2, 10)).toBe(false);
  expect(spool.hasRoom(1, 90)).toBe(false);
  spool.close();
});

test("the age of the oldest frame is measured from when it was spooled", () => {
  let now = 10_000;
  const spool = openSpool(join(dir, "s.db"), { maxMessages: 10, maxBytes: 1000 }, () => now);
  expect(spool.oldestAgeMs()).toBe(0);
  spool.append([frame(1)]);
  now += 2500;
  spool.append([frame(2)]);
  expect(spool.oldestAgeMs()).toBe(2500);
  spool.removeThrough(1);
  expect(spool.oldestAgeMs()).toBe(0);
  spool.close();
});
