/** docs/findings.md and docs/performance.md measure with ~200-byte messages; so does every relay phase here. */
export const PAYLOAD_BYTES = 200;

let nextId = 0;

/**
 * A generic property report of PAYLOAD_BYTES carrying its send stamp in `data.t` (this process's
 * clock, to the microsecond) and the wall clock in `ts` (what a client elsewhere, k6, can compare
 * with). Its `id` is unique within the run: the uplink stores and forwards a device's `id` once.
 */
export function reportPayload(stamp: number): Buffer {
  const head = `{"id":"${(nextId++).toString(36)}","ts":${Date.now()},"data":{"t":${stamp},"pad":"`;
  const tail = `"}}`;
  return Buffer.from(head + "x".repeat(Math.max(0, PAYLOAD_BYTES - head.length - tail.length)) + tail);
}

/** The stamp of a raw report, as it comes off RabbitMQ. */
export function stampOfReport(payload: Buffer): number {
  return (JSON.parse(payload.toString()) as { data: { t: number } }).data.t;
}

/** A property report of a device on a thing model: its properties only (a strict model refuses others), with a unique `id`. */
export function propertiesPayload(data: Record<string, number>): Buffer {
  return Buffer.from(JSON.stringify({ id: (nextId++).toString(36), ts: Date.now(), data }));
}
