import { describe, expect, test } from "bun:test";
import { VENDORS } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { decodes, poisonFrames, refusedBy, type PoisonFrame } from "./frames";

/**
 * The decoders alone against the fuzz test's frames: every one is refused with InvalidInputError
 * (which the bus turns into a dead letter with its reason), never another error, which the bus
 * would retry as if the fault were passing.
 */
const LIMITS = { uplinkBytes: 4096, gatewayBytes: 8192 };
const COUNT = 5000;

describe.each([...VENDORS])("poison frames of %s", (vendor) => {
  const frames = poisonFrames(vendor, `fz-${vendor}`, COUNT, 11, LIMITS, refusedBy(vendor));

  test("the same seed gives the same frames", () => {
    const again = poisonFrames(vendor, `fz-${vendor}`, 50, 11, LIMITS, refusedBy(vendor));
    expect(again.map((f) => f.payload.toString("base64"))).toEqual(frames.slice(0, 50).map((f) => f.payload.toString("base64")));
  });

  test("every frame within the size limits is refused by the decoder with InvalidInputError naming what is wrong", () => {
    const other: { frame: PoisonFrame; err: unknown }[] = [];
    const codes = new Map<string, number>();
    for (const frame of frames.filter((f) => !f.kind.startsWith("oversized"))) {
      try {
        decodes(vendor, frame.topic, frame.payload);
        other.push({ frame, err: "accepted" });
      } catch (err) {
        if (!(err instanceof InvalidInputError) || err.message === "") other.push({ frame, err });
        else codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      }
    }
    expect(other.map(({ frame, err }) => `${frame.kind} ${frame.topic} ${frame.payload.toString().slice(0, 80)}: ${String(err)}`)).toEqual([]);
    expect([...codes.keys()].sort()).toEqual(["invalid_frame", "malformed_json"]);
  });

  test("oversized frames are sized for the stage that refuses them", () => {
    for (const f of frames.filter((x) => x.kind === "oversized-uplink")) expect(f.payload.length).toBeWithin(LIMITS.uplinkBytes + 1, LIMITS.gatewayBytes + 1);
    for (const f of frames.filter((x) => x.kind === "oversized-gateway")) expect(f.payload.length).toBeGreaterThan(LIMITS.gatewayBytes);
  });
});
