import { ConflictError, NotFoundError } from "@umos/core";
import { json, type Sql } from "./database";

export type Validation = "strict" | "flag";

export interface ThingModel {
  id: string;
  version: number;
  name: string;
  validation: Validation;
  definition: unknown;
  createdAt: Date;
}

export interface ModelInput {
  name?: string;
  validation?: Validation;
  definition: unknown;
}

const columns = (sql: Sql) => sql`id, version, name, validation, definition, created_at as "createdAt"`;

/**
 * Thing models are versioned and a version never changes once written: a change is a new version,
 * so a device's model stays what it was until it is moved to another version, and every service
 * can cache a compiled version forever.
 */
/** Thing models, versioned: a change is a new version, and devices stay on theirs until moved. */
export interface ThingModelRepository {
  create(id: string, input: ModelInput): Promise<ThingModel>;
  newVersion(id: string, input: ModelInput): Promise<ThingModel>;
  /** A version, or without one the latest. */
  get(id: string, version?: number): Promise<ThingModel>;
  listLatest(): Promise<ThingModel[]>;
  versions(id: string): Promise<{ version: number; createdAt: Date; devices: number }[]>;
  /** Every version of a model no device uses. */
  remove(id: string): Promise<void>;
}

export function thingModelRepository(sql: Sql): ThingModelRepository {
  return {
    async create(id: string, input: ModelInput): Promise<ThingModel> {
      const [row] = await sql<ThingModel[]>`
        insert into thing_models (id, version, name, validation, definition)
        values (${id}, 1, ${input.name ?? ""}, ${input.validation ?? "strict"}, ${json(sql, input.definition)})
        on conflict do nothing
        returning ${columns(sql)}`;
      if (!row) throw new ConflictError(`thing model '${id}' already exists; PUT /api/v1/thing-models/${id} makes a new version`);
      return row;
    },

    /** Writes the next version; earlier versions, and the devices on them, are untouched. */
    async newVersion(id: string, input: ModelInput): Promise<ThingModel> {
      const [row] = await sql<ThingModel[]>`
        insert into thing_models (id, version, name, validation, definition)
        select ${id}, max(version) + 1, coalesce(${input.name ?? null}, (array_agg(name order by version desc))[1]),
          coalesce(${input.validation ?? null}, (array_agg(validation order by version desc))[1]), ${json(sql, input.definition)}
        from thing_models where id = ${id} having count(*) > 0
        returning ${columns(sql)}`;
      if (!row) throw new NotFoundError(`thing model '${id}' does not exist`);
      return row;
    },

    /** A version, or the latest when `version` is omitted. */
    async get(id: string, version?: number): Promise<ThingModel> {
      const [row] = await sql<ThingModel[]>`
        select ${columns(sql)} from thing_models where id = ${id}
          ${version === undefined ? sql`` : sql`and version = ${version}`}
        order by version desc limit 1`;
      if (!row) throw new NotFoundError(version === undefined ? `thing model '${id}' does not exist` : `thing model '${id}' has no version ${version}`);
      return row;
    },

    /** The latest version of every model. */
    async listLatest(): Promise<ThingModel[]> {
      return sql<ThingModel[]>`select distinct on (id) ${columns(sql)} from thing_models order by id, version desc`;
    },

    async versions(id: string): Promise<{ version: number; createdAt: Date; devices: number }[]> {
      const rows = await sql<{ version: number; createdAt: Date; devices: number }[]>`
        select m.version, m.created_at as "createdAt", count(d.id)::int as devices
        from thing_models m left join devices d on d.model_id = m.id and d.model_version = m.version
        where m.id = ${id} group by m.version, m.created_at order by m.version`;
      if (rows.length === 0) throw new NotFoundError(`thing model '${id}' does not exist`);
      return rows;
    },

    /** Removes every version; refused while a device uses any of them. */
    async remove(id: string): Promise<void> {
      const [use] = await sql<{ n: number }[]>`select count(*)::int as n from devices where model_id = ${id}`;
      if (use!.n > 0) throw new ConflictError(`thing model '${id}' is used by ${use!.n} device(s); move them to another model first`);
      const result = await sql`delete from thing_models where id = ${id}`;
      if (result.count === 0) throw new NotFoundError(`thing model '${id}' does not exist`);
    },
  };
}
