import type { TSchema, Static } from "@sinclair/typebox";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import { LATEST_TIMESTAMP_MS, storageProblem } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import type { EncodedFrame } from "./interface";

export { LATEST_TIMESTAMP_MS };

/** Parses a frame's JSON and checks it against its wire schema; the error names the path and the rule. */
export function parseFrame<S extends TSchema>(payload: Uint8Array, checker: TypeCheck<S>, what: string): Static<S> {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"));
  } catch {
    throw new InvalidInputError("malformed_json", `${what} frame is not valid JSON`);
  }
  const unstorable = storageProblem(body);
  if (unstorable) throw new InvalidInputError("invalid_frame", `${what} frame: ${unstorable}`);
  if (!checker.Check(body)) {
    const first = checker.Errors(body).First();
    throw new InvalidInputError("invalid_frame", `${what} frame: ${first?.path || "/"}: ${first?.message ?? "invalid"}`);
  }
  return body;
}

export function jsonFrame(topic: string, body: unknown): EncodedFrame {
  return { topic, payload: Buffer.from(JSON.stringify(body)) };
}

/**
 * Timestamps arrive as ms, as s (10 digits, Tuya), or as strings of either (DJI's own examples vary).
 * One that is missing, not a number, or past LATEST_TIMESTAMP_MS gives way to `fallback`.
 */
export function toMillis(value: unknown, fallback: number): number {
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) return fallback;
  const ms = n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  return ms > LATEST_TIMESTAMP_MS ? fallback : ms;
}
