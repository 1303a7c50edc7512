import type { TSchema, Static } from "@sinclair/typebox";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import { InvalidInputError } from "@umos/core";
import type { EncodedFrame } from "./interface";

/**
 * The latest device time taken, in ms since the epoch: InfluxDB's int64 nanoseconds end in April
 * 2262, and a later time would fail every telemetry write of its batch.
 */
export const LATEST_TIMESTAMP_MS = 9_223_372_036_854;

/**
 * Bounds on any frame's JSON, whatever its schema says (which cannot bound record keys: TypeBox
 * checks no constraint on them). Deeper nesting overflows JSON.stringify's stack (~100,000 levels
 * under Bun) and PostgreSQL's (jsonb: "stack depth limit exceeded"); a property name becomes part of
 * a B-tree key (device_state), which holds at most 2,704 bytes.
 */
const MAX_DEPTH = 32;
const MAX_KEY_LENGTH = 128;

/** Parses a frame's JSON and checks it against its wire schema; the error names the path and the rule. */
export function parseFrame<S extends TSchema>(payload: Uint8Array, checker: TypeCheck<S>, what: string): Static<S> {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"));
  } catch {
    throw new InvalidInputError("malformed_json", `${what} frame is not valid JSON`);
  }
  const unstorable = storageProblem(body, "", 0);
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
 * What PostgreSQL could not store or JSON.stringify could not write back, as `path: problem`:
 * nesting past MAX_DEPTH, a key past MAX_KEY_LENGTH, or text with U+0000 or an unpaired surrogate
 * (JSON.parse takes both as \u escapes; PostgreSQL text and jsonb refuse them).
 */
function storageProblem(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === "string") return storableText(value) ? undefined : `${path || "/"}: text holds U+0000 or an unpaired surrogate`;
  if (typeof value !== "object" || value === null) return undefined;
  if (depth >= MAX_DEPTH) return `${path}: nested deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = storageProblem(value[i], `${path}/${i}`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}/${key.slice(0, 32)}`;
    if (key.length > MAX_KEY_LENGTH) return `${at}...: key longer than ${MAX_KEY_LENGTH} characters`;
    if (!storableText(key)) return `${at}: key holds U+0000 or an unpaired surrogate`;
    const problem = storageProblem(item, at, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

const storableText = (text: string) => !text.includes("\u0000") && text.isWellFormed();

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
