import { describe, expect, test } from "bun:test";
import { createAckOrder } from "./ack-order";

describe("PUBACK order [MQTT-4.6.0-2]", () => {
  test("acks leave in arrival order even when confirms arrive out of order", () => {
    const sent: number[][] = [];
    const order = createAckOrder((ids) => sent.push(ids));
    const a = order.receive(10);
    const b = order.receive(11);
    const c = order.receive(12);
    c();
    b();
    expect(sent).toEqual([]);
    a();
    expect(sent).toEqual([[10, 11, 12]]);
    expect(order.pending).toBe(0);
  });

  test("a confirmed prefix is released at once, the rest waits", () => {
    const sent: number[][] = [];
    const order = createAckOrder((ids) => sent.push(ids));
    const a = order.receive(1);
    const b = order.receive(2);
    a();
    expect(sent).toEqual([[1]]);
    expect(order.pending).toBe(1);
    b();
    expect(sent).toEqual([[1], [2]]);
  });

  test("after a reset, completions from the old connection ack nothing", () => {
    const sent: number[][] = [];
    const order = createAckOrder((ids) => sent.push(ids));
    const stale = order.receive(5);
    order.reset();
    const fresh = order.receive(5);
    stale();
    expect(sent).toEqual([]);
    fresh();
    expect(sent).toEqual([[5]]);
  });

  test("a long run keeps order across compaction", () => {
    const sent: number[] = [];
    const order = createAckOrder((ids) => sent.push(...ids));
    const done = Array.from({ length: 10_000 }, (_, i) => order.receive(i + 1));
    for (const d of done.slice(0, 9_000)) d(); // head passes the compaction threshold with 1,000 pending
    const later = order.receive(20_000);
    later();
    for (const d of done.slice(9_000)) d();
    expect(sent.length).toBe(10_001);
    expect(sent.slice(8_999, 9_001)).toEqual([9_000, 9_001]);
    expect(sent[sent.length - 1]).toBe(20_000);
    expect(order.pending).toBe(0);
  });

  test("bytes held count until each message is safe, not until its PUBACK leaves, and a reset forgets them", () => {
    const order = createAckOrder(() => {});
    const a = order.receive(1, 100);
    const b = order.receive(2, 50);
    b();
    expect([order.unsafeBytes, order.pending]).toEqual([100, 2]);
    b();
    expect(order.unsafeBytes).toBe(100);
    a();
    expect([order.unsafeBytes, order.pending]).toEqual([0, 0]);
    const stale = order.receive(3, 70);
    order.reset();
    expect(order.unsafeBytes).toBe(0);
    stale();
    expect(order.unsafeBytes).toBe(0);
  });

  test("a QoS 0 frame's bytes are held until released, once, with nothing to acknowledge", () => {
    const sent: number[][] = [];
    const order = createAckOrder((ids) => sent.push(ids));
    const release = order.hold(300);
    expect([order.unsafeBytes, order.pending]).toEqual([300, 0]);
    release();
    release();
    expect([order.unsafeBytes, sent]).toEqual([0, []]);
    const stale = order.hold(40);
    order.reset();
    stale();
    expect(order.unsafeBytes).toBe(0);
  });
});
