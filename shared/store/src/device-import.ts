import type { Vendor } from "@umos/contracts";
import { ConflictError, InvalidInputError } from "@umos/core";
import type { Sql } from "./database";

/** Rows one import takes (docs/fleet.md, bulk provisioning). */
export const MAX_IMPORT_ROWS = 10_000;

/** One device of an import, its shape already checked; `line` is where it stands in the file. */
export interface ImportRow {
  line: number;
  id: string;
  vendor: Vendor;
  name: string;
  metadata: Record<string, unknown>;
  tags: string[];
  /** Without a version: the model's latest. */
  model: { id: string; version?: number } | null;
  /** Static groups the device joins. */
  groups: string[];
}

export interface ImportProblem {
  line: number;
  id: string | null;
  reason: string;
}

/**
 * What the registry says against the rows: ids already registered or repeated in the file, thing
 * models or versions and groups that do not exist, groups that are queries. Every problem, in line
 * order; none means the import can go in.
 */
export async function checkImport(sql: Sql, rows: readonly ImportRow[]): Promise<ImportProblem[]> {
  return (await resolve(sql, rows)).problems;
}

/**
 * Registers every row with its password hash, its tags and its static groups, in one transaction:
 * all or nothing. Refused with `invalid_import` (the problems in `details.errors`) when any row is.
 */
export async function importDevices(sql: Sql, rows: readonly ImportRow[], secretHashes: readonly string[]): Promise<void> {
  if (rows.length > MAX_IMPORT_ROWS) throw new InvalidInputError("too_many_rows", `${rows.length} rows; at most ${MAX_IMPORT_ROWS} in one import`);
  await sql
    .begin(async (tx) => {
      // The groups named are held, so one cannot be deleted or become a query before the commit.
      const { problems, versions } = await resolve(tx as unknown as Sql, rows, true);
      if (problems.length > 0) throw importRefused(problems, rows.length);
      const inserted = await tx`
      insert into devices (id, vendor, name, metadata, tags, model_id, model_version)
      select r.id, r.vendor, r.name, r.metadata::jsonb, array(select jsonb_array_elements_text(r.tags::jsonb)), r.model_id, r.model_version
      from unnest(
        ${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.vendor)}::text[], ${rows.map((r) => r.name)}::text[],
        ${rows.map((r) => JSON.stringify(r.metadata))}::text[], ${rows.map((r) => JSON.stringify(r.tags))}::text[],
        ${rows.map((r) => r.model?.id ?? null)}::text[], ${versions}::int[]
      ) as r(id, vendor, name, metadata, tags, model_id, model_version)
      on conflict (id) do nothing`;
      if (inserted.count !== rows.length)
        throw new ConflictError(`${rows.length - inserted.count} of the devices were registered by someone else meanwhile; nothing was imported`);
      await tx`
      insert into device_credentials (device_id, secret_hash)
      select * from unnest(${rows.map((r) => r.id)}::text[], ${[...secretHashes]}::text[])`;
      const members = rows.flatMap((r) => r.groups.map((g) => [g, r.id] as const));
      if (members.length > 0)
        await tx`
        insert into device_group_members (group_id, device_id)
        select * from unnest(${members.map((m) => m[0])}::text[], ${members.map((m) => m[1])}::text[])
        on conflict do nothing`;
    })
    .catch((err: unknown) => {
      // A thing model removed between the check and the insert.
      if ((err as { code?: string }).code === "23503") throw new ConflictError("a thing model the import names was removed meanwhile; nothing was imported");
      throw err;
    });
}

export function importRefused(problems: ImportProblem[], rows: number): InvalidInputError {
  const first = problems[0]!;
  return new InvalidInputError(
    "invalid_import",
    `${new Set(problems.map((p) => p.line)).size} of ${rows} rows are refused (first, line ${first.line}: ${first.reason}); nothing was imported`,
    { errors: problems },
  );
}

/** The problems, and the model version each row gets (the latest where none is named). */
async function resolve(sql: Sql, rows: readonly ImportRow[], lock = false): Promise<{ problems: ImportProblem[]; versions: (number | null)[] }> {
  const problems: ImportProblem[] = [];
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    const seen = firstLine.get(row.id);
    if (seen === undefined) firstLine.set(row.id, row.line);
    else problems.push({ line: row.line, id: row.id, reason: `device '${row.id}' is also on line ${seen}` });
  }
  const modelIds = [...new Set(rows.flatMap((r) => (r.model ? [r.model.id] : [])))];
  const groupIds = [...new Set(rows.flatMap((r) => r.groups))];
  const [taken, models, groups] = await Promise.all([
    sql<{ id: string }[]>`select id from devices where id = any(${[...firstLine.keys()]}::text[])`,
    sql<
      { id: string; versions: number[] }[]
    >`select id, array_agg(version order by version) as versions from thing_models where id = any(${modelIds}::text[]) group by id`,
    lock
      ? sql<{ id: string; query: string | null }[]>`select id, query from device_groups where id = any(${groupIds}::text[]) order by id for share`
      : sql<{ id: string; query: string | null }[]>`select id, query from device_groups where id = any(${groupIds}::text[])`,
  ]);
  const takenIds = new Set(taken.map((t) => t.id));
  const versionsOf = new Map(models.map((m) => [m.id, m.versions]));
  const queryOf = new Map(groups.map((g) => [g.id, g.query]));
  const versions = rows.map((row) => {
    if (takenIds.has(row.id)) problems.push({ line: row.line, id: row.id, reason: `device '${row.id}' is already registered` });
    for (const group of row.groups) {
      if (!queryOf.has(group)) problems.push({ line: row.line, id: row.id, reason: `device group '${group}' does not exist` });
      else if (queryOf.get(group) !== null)
        problems.push({ line: row.line, id: row.id, reason: `device group '${group}' is dynamic: its members are the devices its query matches` });
    }
    if (!row.model) return null;
    const known = versionsOf.get(row.model.id);
    if (!known) {
      problems.push({ line: row.line, id: row.id, reason: `thing model '${row.model.id}' does not exist` });
      return null;
    }
    if (row.model.version === undefined) return known[known.length - 1]!;
    if (!known.includes(row.model.version))
      problems.push({ line: row.line, id: row.id, reason: `version ${row.model.version} of thing model '${row.model.id}' does not exist` });
    return row.model.version;
  });
  problems.sort((a, b) => a.line - b.line);
  return { problems, versions };
}
