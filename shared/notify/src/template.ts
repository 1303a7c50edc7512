/**
 * Templates are text with `{{dotted.path}}` placeholders and nothing else: no code, no helpers, no
 * loops, so a channel's template can do no more than read the notification's own fields.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;

/**
 * The template with each placeholder replaced by the value at its path: text as is, numbers and
 * booleans as written, objects as JSON, a missing value as nothing. Only own properties are read,
 * so `{{constructor}}` or `{{__proto__}}` find nothing.
 */
export function render(template: string, values: unknown): string {
  return template.replace(PLACEHOLDER, (_, path: string) => show(lookup(values, path)));
}

/** The first segment of every placeholder, for checking a template against the fields there are. */
export function placeholderRoots(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!.split(".")[0]!);
}

function lookup(values: unknown, path: string): unknown {
  let at = values;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function show(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
