import type { Vendor } from "@umos/contracts";
import { adapterFor } from "@umos/vendors";
import { loadFixtures } from "../../../shared/vendors/src/fixtures";

/**
 * Poison frames for the fuzz test (docs/operations.md, Dead letters): malformed, truncated, oversized and
 * wrong-type payloads on every device->cloud topic of a vendor, from a seed, so a failure
 * reproduces. Each is built from a valid frame of that topic (the vendor's captured fixtures; the
 * generic protocol's documented shapes) and broken in one way.
 */
export type PoisonKind = "malformed" | "truncated" | "oversized-uplink" | "oversized-gateway" | "wrong-type";

export interface PoisonFrame {
  kind: PoisonKind;
  topic: string;
  payload: Buffer;
}

export interface SizeLimits {
  /** uplink.maxFrameBytes: larger frames pass the gateway and die in the uplink. */
  uplinkBytes: number;
  /** gateway.maxPayloadBytes: larger frames die in the gateway. */
  gatewayBytes: number;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same frames. */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! };
}

const GENERIC_TEMPLATES: Record<string, unknown> = {
  "property.report": { id: "r-1", ts: 1_700_000_000_000, data: { temperature: 21.5, on: true } },
  "event.report": { id: "e-1", ts: 1_700_000_000_000, event: "door", data: { open: true } },
  "service.reply": { id: "s-1", correlationId: "0190c0de-0000-7000-8000-000000000001", code: 0, data: { ok: 1 } },
  status: { state: "online" },
};

/** The vendor's device->cloud topics for one device, each with a valid payload to break. */
export function templates(vendor: Vendor, deviceId: string): { topic: string; body: unknown }[] {
  const adapter = adapterFor(vendor);
  const fixtures = vendor === "generic" ? [] : [...loadFixtures(vendor).values()];
  return adapter.uplinkFilters.map((filter) => {
    const topic = filter.replace("+", deviceId);
    const { action } = adapter.routeTopic(topic)!;
    const fixture = fixtures.find((f) => f.topic !== undefined && adapter.routeTopic(f.topic)?.action === action);
    const body = vendor === "generic" ? GENERIC_TEMPLATES[action] : fixture?.payload;
    if (body === undefined) throw new Error(`no template for ${vendor} ${action}`);
    return { topic, body };
  });
}

/** Values of the wrong JSON type, and values no store can keep, for a field of any type. */
const WRONG_VALUES: unknown[] = [1, -1, 2.5, "x", "", true, null, [], [1, "a"], {}, { nested: { deeper: [] } }, 1e300, "x\u0000y", "\ud800", "9".repeat(400)];

/** Nested arrays past any sane depth, as JSON text: JSON.stringify overflowed on 100,000 levels before the decoders bounded depth. */
const deepText = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

/**
 * `count` poison frames of a vendor, cycling through the five kinds. `refused` says whether the
 * vendor's decoder refuses a payload: a wrong-type candidate it accepts is a valid frame after all
 * and is drawn again, so every frame returned is poison.
 */
export function poisonFrames(
  vendor: Vendor,
  deviceId: string,
  count: number,
  seed: number,
  limits: SizeLimits,
  refused: (topic: string, payload: Buffer) => boolean,
): PoisonFrame[] {
  const rnd = random(seed);
  const bases = templates(vendor, deviceId).map((t) => ({ topic: t.topic, body: t.body, bytes: Buffer.from(JSON.stringify(t.body)) }));
  const kinds: PoisonKind[] = ["malformed", "truncated", "wrong-type", "oversized-uplink", "oversized-gateway"];
  const frames: PoisonFrame[] = [];
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length]!;
    const base = rnd.pick(bases);
    frames.push({ kind, topic: base.topic, payload: build(kind, base) });
  }
  return frames;

  function build(kind: PoisonKind, base: { topic: string; body: unknown; bytes: Buffer }): Buffer {
    switch (kind) {
      case "malformed":
        return malformed(base.bytes);
      case "truncated":
        return base.bytes.subarray(0, rnd.int(base.bytes.length));
      case "oversized-uplink":
        return padded(base.body, limits.uplinkBytes + 1 + rnd.int(limits.gatewayBytes - limits.uplinkBytes));
      case "oversized-gateway":
        // Now and then a really large one: the gateway must cut it, not hand RabbitMQ megabytes.
        return padded(base.body, rnd.int(500) === 0 ? 2_000_000 + rnd.int(1_000_000) : limits.gatewayBytes + 1 + rnd.int(4 * limits.gatewayBytes));
      case "wrong-type":
        return wrongType(base.topic, base.body);
      default:
        return kind satisfies never;
    }
  }

  /** Bytes flipped, inserted or dropped, or plain noise; never valid JSON. */
  function malformed(bytes: Buffer): Buffer {
    if (rnd.int(4) === 0) return Buffer.from(Array.from({ length: rnd.int(600) }, () => rnd.int(256)));
    const out = [...bytes];
    for (let edits = 1 + rnd.int(4); edits > 0; edits--) {
      const at = rnd.int(out.length + 1);
      const op = rnd.int(3);
      if (op === 0) out.splice(at, 0, rnd.int(256));
      else if (op === 1) out.splice(at, 1);
      else if (at < out.length) out[at] = rnd.int(256);
    }
    const result = Buffer.from(out);
    return parses(result) ? Buffer.concat([result, Buffer.from("}{")]) : result;
  }

  /** A field set to a value of the wrong type or one that cannot be stored, or the whole frame not an object. */
  function wrongType(topic: string, body: unknown): Buffer {
    const wholes = [
      () => "1",
      () => '"frame"',
      () => JSON.stringify([body]),
      () => "null",
      () => "true",
      () => deepText(40),
      () => `{"data":${deepText(2000)}}`,
    ];
    for (;;) {
      const text = rnd.int(8) === 0 ? rnd.pick(wholes)() : JSON.stringify(mutated(body)).replace('"$deep"', deepText(33 + rnd.int(100)));
      const payload = Buffer.from(text);
      if (payload.length <= limits.uplinkBytes && refused(topic, payload)) return payload;
    }
  }

  function mutated(body: unknown): unknown {
    const copy = structuredClone(body) as Record<string, unknown>;
    // A top-level field, or one inside data, set to a wrong value; or a key no store can index.
    const data = copy.data;
    const target = typeof data === "object" && data !== null && !Array.isArray(data) && rnd.int(2) === 0 ? (data as Record<string, unknown>) : copy;
    const keys = Object.keys(target);
    if (keys.length === 0 || rnd.int(10) === 0) target[rnd.pick(["k".repeat(200), "a\u0000b", "\udc00"])] = 1;
    // "$deep" is swapped for nesting past the decoders' depth bound once the frame is text.
    else target[rnd.pick(keys)] = rnd.int(10) === 0 ? "$deep" : rnd.pick(WRONG_VALUES);
    return copy;
  }

  /** The template with a filler field, to exactly `size` bytes: well-formed, only too large. */
  function padded(body: unknown, size: number): Buffer {
    const bare = Buffer.from(JSON.stringify({ ...(body as object), pad: "" }));
    return Buffer.from(JSON.stringify({ ...(body as object), pad: "x".repeat(Math.max(0, size - bare.length)) }));
  }
}

/** A payload through the vendor's decoder as the uplink would hand it over. */
export function decodes(vendor: Vendor, topic: string, payload: Buffer): unknown {
  const adapter = adapterFor(vendor);
  const route = adapter.routeTopic(topic)!;
  return adapter.decode({
    deviceId: route.deviceId,
    action: route.action,
    topic,
    payload,
    messageId: "0190c0de-0000-7000-8000-00000000f022",
    receivedAt: 1_700_000_000_000,
  });
}

/** Whether the vendor's decoder refuses a payload: the oracle that keeps valid frames out of the poison. */
export const refusedBy = (vendor: Vendor) => (topic: string, payload: Buffer) => {
  try {
    decodes(vendor, topic, payload);
    return false;
  } catch {
    return true;
  }
};

function parses(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}
