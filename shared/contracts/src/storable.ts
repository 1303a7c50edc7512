/**
 * The latest time UMOS stores, in ms since the epoch: InfluxDB's int64 nanoseconds end in April
 * 2262, and a later time would fail every telemetry write of its batch.
 */
export const LATEST_TIMESTAMP_MS = 9_223_372_036_854;

/**
 * Bounds on any JSON UMOS takes in (a device frame, a REST body or query), whatever its schema says
 * (which cannot bound record keys: TypeBox checks no constraint on them). Deeper nesting overflows
 * JSON.stringify's stack (~100,000 levels under Bun) and PostgreSQL's (jsonb: "stack depth limit
 * exceeded"), and makes a validator's error report cost the square of the depth; a property name
 * becomes part of a B-tree key (device_state), which holds at most 2,704 bytes.
 */
export const MAX_JSON_DEPTH = 32;
export const MAX_KEY_LENGTH = 128;

/**
 * What PostgreSQL could not store or JSON.stringify could not write back, as `path: problem`:
 * nesting past MAX_JSON_DEPTH, a key past MAX_KEY_LENGTH, or text with U+0000 or an unpaired
 * surrogate (JSON.parse takes both as \u escapes; PostgreSQL text and jsonb refuse them).
 */
export function storageProblem(value: unknown, path = "", depth = 0): string | undefined {
  if (typeof value === "string") return storableText(value) ? undefined : `${path || "/"}: text holds U+0000 or an unpaired surrogate`;
  if (typeof value !== "object" || value === null) return undefined;
  if (depth >= MAX_JSON_DEPTH) return `${path}: nested deeper than ${MAX_JSON_DEPTH} levels`;
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
