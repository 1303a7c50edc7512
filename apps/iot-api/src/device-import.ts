import { parse as parseCsv } from "csv-parse/sync";
import { VENDORS, type Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { type ImportProblem, type ImportRow, MAX_IMPORT_ROWS } from "@umos/store";

/**
 * Bulk provisioning's input (docs/fleet.md): a CSV file with a header line, or JSON (an array of
 * devices, or `{ "devices": [...] }`). Each row is checked on its own here, every problem kept with
 * its line; what the registry must say (ids taken, models and groups that exist) is the store's.
 */
export interface ParsedImport {
  rows: ImportRow[];
  problems: ImportProblem[];
}

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TAG = /^[A-Za-z0-9._:/-]{1,64}$/;
const METADATA_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TAGS = 32;
const MAX_GROUPS = 32;
const MAX_NAME = 256;
/** A row's metadata, as JSON. */
const MAX_METADATA_BYTES = 8192;

const CSV_COLUMNS = ["id", "vendor", "name", "model", "tags", "groups", "metadata"] as const;
const JSON_FIELDS = new Set<string>(CSV_COLUMNS);

/** The fields of one row before they are checked, as either format gives them. */
interface RawRow {
  line: number;
  id?: unknown;
  vendor?: unknown;
  name?: unknown;
  model?: unknown;
  tags?: unknown;
  groups?: unknown;
  metadata?: unknown;
}

export function parseImport(contentType: string, text: string): ParsedImport {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "text/csv") return checkRows(csvRows(text));
  if (type === "application/json") return checkRows(jsonRows(text));
  throw new InvalidInputError("unsupported_media_type", `send the devices as text/csv or application/json, not '${contentType || "nothing"}'`);
}

function csvRows(text: string): { raw: RawRow[]; problems: ImportProblem[] } {
  let records: { record: string[]; info: { lines: number; error?: unknown } }[];
  try {
    // One record past the limit is read, so "too many" is known without reading the rest.
    records = parseCsv(text, { bom: true, skip_empty_lines: true, info: true, relax_column_count: true, to: MAX_IMPORT_ROWS + 2 }) as unknown as typeof records;
  } catch (err) {
    const { message, lines } = err as { message: string; lines?: number };
    throw new InvalidInputError("invalid_csv", `the CSV does not parse${lines ? ` (line ${lines})` : ""}: ${message}`);
  }
  const [header, ...body] = records;
  if (!header) throw new InvalidInputError("invalid_csv", "the CSV is empty: it needs a header line (id,vendor,...) and a line per device");
  tooMany(body.length);
  const columns = header.record.map((c) => c.trim());
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c) && !/^metadata\.[A-Za-z0-9_-]{1,64}$/.test(c));
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (unknown.length > 0 || repeated.length > 0 || !columns.includes("id") || !columns.includes("vendor"))
    throw new InvalidInputError(
      "invalid_csv",
      `line 1, the header: ${[
        ...unknown.map((c) => `'${c}' is not a column`),
        ...repeated.map((c) => `'${c}' is there twice`),
        ...["id", "vendor"].filter((c) => !columns.includes(c)).map((c) => `'${c}' is missing`),
      ].join("; ")}; columns: ${CSV_COLUMNS.join(", ")}, metadata.<key>`,
    );
  const problems: ImportProblem[] = [];
  const raw: RawRow[] = [];
  for (const { record, info } of body) {
    const line = info.lines;
    if (record.length !== columns.length) {
      problems.push({ line, id: record[columns.indexOf("id")] ?? null, reason: `${record.length} cells; the header has ${columns.length}` });
      continue;
    }
    const cell = (name: string) => {
      const v = record[columns.indexOf(name)];
      return v === undefined || v.trim() === "" ? undefined : v.trim();
    };
    const list = (name: string) =>
      cell(name)
        ?.split(";")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    const row: RawRow = { line, id: cell("id"), vendor: cell("vendor"), name: cell("name"), model: cell("model"), tags: list("tags"), groups: list("groups") };
    const metadataCell = cell("metadata");
    let metadata: unknown = {};
    if (metadataCell !== undefined) {
      try {
        metadata = JSON.parse(metadataCell);
      } catch {
        problems.push({ line, id: row.id as string | null, reason: "metadata is not JSON (a JSON object, or metadata.<key> columns)" });
        continue;
      }
    }
    const keyed = columns.filter((c) => c.startsWith("metadata.") && cell(c) !== undefined);
    if (keyed.length > 0 && isObject(metadata)) {
      const object = metadata;
      const clash = keyed.find((c) => c.slice("metadata.".length) in object);
      if (clash) {
        problems.push({ line, id: row.id as string | null, reason: `${clash} is set twice: in its column and in the metadata JSON` });
        continue;
      }
      metadata = { ...metadata, ...Object.fromEntries(keyed.map((c) => [c.slice("metadata.".length), cell(c)])) };
    }
    raw.push({ ...row, metadata });
  }
  return { raw, problems };
}

function jsonRows(text: string): { raw: RawRow[]; problems: ImportProblem[] } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError("invalid_json", `the body is not JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(document) ? document : isObject(document) && Array.isArray(document.devices) ? document.devices : undefined;
  if (!list) throw new InvalidInputError("invalid_json", 'the body is an array of devices, or { "devices": [...] }');
  tooMany(list.length);
  const problems: ImportProblem[] = [];
  const raw: RawRow[] = [];
  for (const [i, item] of (list as unknown[]).entries()) {
    const line = i + 1;
    if (!isObject(item)) {
      problems.push({ line, id: null, reason: "a device is a JSON object" });
      continue;
    }
    const extra = Object.keys(item).filter((k) => !JSON_FIELDS.has(k));
    if (extra.length > 0) {
      problems.push({ line, id: typeof item.id === "string" ? item.id : null, reason: `${extra.map((k) => `'${k}'`).join(", ")}: not a field` });
      continue;
    }
    raw.push({ ...item, line });
  }
  return { raw, problems };
}

function tooMany(rows: number): void {
  if (rows > MAX_IMPORT_ROWS) throw new InvalidInputError("too_many_rows", `more than ${MAX_IMPORT_ROWS} devices in one import; split the file`);
  if (rows === 0) throw new InvalidInputError("no_rows", "the import lists no devices");
}

function checkRows({ raw, problems }: { raw: RawRow[]; problems: ImportProblem[] }): ParsedImport {
  const rows: ImportRow[] = [];
  for (const r of raw) {
    const reasons = rowReasons(r);
    const id = typeof r.id === "string" ? r.id : null;
    if (reasons.length > 0) for (const reason of reasons) problems.push({ line: r.line, id, reason });
    else rows.push(toRow(r));
  }
  problems.sort((a, b) => a.line - b.line);
  return { rows, problems };
}

function rowReasons(r: RawRow): string[] {
  const out: string[] = [];
  if (typeof r.id !== "string" || !ID.test(r.id)) out.push("id: 1 to 128 letters, digits and . _ : -");
  if (typeof r.vendor !== "string" || !(VENDORS as readonly string[]).includes(r.vendor)) out.push(`vendor: one of ${VENDORS.join(", ")}`);
  if (r.name !== undefined && (typeof r.name !== "string" || r.name.length > MAX_NAME)) out.push(`name: text of at most ${MAX_NAME} characters`);
  if (r.model !== undefined && modelRef(r.model) === undefined)
    out.push('model: a thing model id, optionally @version ("weather-station@2"), or { "id", "version" }');
  const tags = r.tags ?? [];
  if (!Array.isArray(tags) || tags.length > MAX_TAGS || tags.some((t) => typeof t !== "string" || !TAG.test(t)))
    out.push(`tags: at most ${MAX_TAGS}, each 1 to 64 letters, digits and . _ : / -`);
  else if (new Set(tags).size !== tags.length) out.push("tags: a tag is listed twice");
  const groups = r.groups ?? [];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS || groups.some((g) => typeof g !== "string" || !ID.test(g)))
    out.push(`groups: at most ${MAX_GROUPS} group ids`);
  const metadata = r.metadata ?? {};
  if (!isObject(metadata)) out.push("metadata: a JSON object");
  else if (Object.keys(metadata).some((k) => !METADATA_KEY.test(k))) out.push("metadata: keys are 1 to 64 letters, digits, _ and -");
  else if (JSON.stringify(metadata).length > MAX_METADATA_BYTES) out.push(`metadata: at most ${MAX_METADATA_BYTES} bytes of JSON`);
  return out;
}

function toRow(r: RawRow): ImportRow {
  return {
    line: r.line,
    id: r.id as string,
    vendor: r.vendor as Vendor,
    name: (r.name as string | undefined) ?? "",
    metadata: (r.metadata as Record<string, unknown> | undefined) ?? {},
    tags: (r.tags as string[] | undefined) ?? [],
    model: r.model === undefined ? null : modelRef(r.model)!,
    groups: [...new Set((r.groups as string[] | undefined) ?? [])],
  };
}

/** `"id"`, `"id@version"` or `{ id, version? }`; undefined when it is none of them. */
function modelRef(value: unknown): { id: string; version?: number } | undefined {
  if (typeof value === "string") {
    const m = /^([A-Za-z0-9._-]{1,128})(?:@([1-9][0-9]{0,8}))?$/.exec(value);
    if (!m) return undefined;
    return m[2] === undefined ? { id: m[1]! } : { id: m[1]!, version: Number(m[2]) };
  }
  if (!isObject(value) || typeof value.id !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(value.id)) return undefined;
  if (Object.keys(value).some((k) => k !== "id" && k !== "version")) return undefined;
  if (value.version === undefined) return { id: value.id };
  if (!Number.isInteger(value.version) || (value.version as number) < 1 || (value.version as number) > 2_147_483_647) return undefined;
  return { id: value.id, version: value.version as number };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The one-time credentials as a CSV download: `username,password`, one line per device. */
export function credentialsCsv(credentials: readonly { username: string; password: string }[]): string {
  // Written as they are: ids and base64url passwords hold no comma, quote or line break, and without
  // "(", "=", "+" or "@" no spreadsheet formula can call anything; an apostrophe would change them.
  return `${["username,password", ...credentials.map((c) => `${c.username},${c.password}`)].join("\r\n")}\r\n`;
}
