import { ConflictError, InvalidInputError, NotFoundError } from "@umos/core";
import type { Sql } from "./database";
import { deviceFilter } from "./device-filter";
import { groupsNamed, parseDeviceQuery } from "./device-query";
import { groupQueries } from "./devices";

/** At most this many devices are added to a static group in one call. */
export const MAX_MEMBERS_PER_CALL = 10_000;

/** A static group lists its members; a dynamic one is the devices its query matches when read. */
export interface DeviceGroup {
  id: string;
  name: string;
  description: string;
  kind: "static" | "dynamic";
  /** The device query of a dynamic group; null for a static one. */
  query: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewGroup {
  id: string;
  name?: string;
  description?: string;
  /** Given: a dynamic group. */
  query?: string;
}

export interface GroupPatch {
  name?: string;
  description?: string;
  /** A dynamic group's new query; a static group has none to change. */
  query?: string;
}

export interface GroupRepository {
  create(group: NewGroup): Promise<DeviceGroup>;
  get(id: string): Promise<DeviceGroup>;
  /** Pages in id order; `after` is the last id of the previous page. */
  list(options: { limit: number; after?: string }): Promise<{ items: DeviceGroup[]; nextCursor: string | null }>;
  update(id: string, patch: GroupPatch): Promise<DeviceGroup>;
  /** Refused while another group's query names it. */
  remove(id: string): Promise<void>;
  /** Adds devices to a static group, all or none; returns how many were not members yet. */
  addMembers(id: string, deviceIds: string[]): Promise<number>;
  removeMember(id: string, deviceId: string): Promise<void>;
  /** The static groups a device is listed in. */
  groupsOf(deviceId: string): Promise<string[]>;
}

type Row = Omit<DeviceGroup, "kind">;

const columns = (sql: Sql) => sql`id, name, description, query, created_at as "createdAt", updated_at as "updatedAt"`;
const toGroup = (row: Row): DeviceGroup => ({ ...row, kind: row.query === null ? "static" : "dynamic" });

export function groupRepository(sql: Sql): GroupRepository {
  /**
   * A dynamic group's query parses, names only groups that exist, and does not name itself through
   * them, checked with the group's new query in place of its stored one. Returns the groups it names.
   */
  const check = async (id: string, query: string): Promise<string[]> => {
    const node = parseDeviceQuery(query);
    const stored = groupQueries(sql);
    await deviceFilter(sql, { and: [node, { field: { name: "group" }, op: "=", value: id }] }, async (ids) => {
      const found = await stored(ids.filter((g) => g !== id));
      if (ids.includes(id)) found.set(id, query);
      return found;
    });
    return groupsNamed(node);
  };

  const get = async (id: string): Promise<DeviceGroup> => {
    const [row] = await sql<Row[]>`select ${columns(sql)} from device_groups where id = ${id}`;
    if (!row) throw new NotFoundError(`device group '${id}' does not exist`);
    return toGroup(row);
  };

  return {
    async create(group: NewGroup): Promise<DeviceGroup> {
      const refs = group.query === undefined ? [] : await check(group.id, group.query);
      const rows = await sql<Row[]>`
        insert into device_groups (id, name, description, query, refs)
        values (${group.id}, ${group.name ?? ""}, ${group.description ?? ""}, ${group.query ?? null}, ${refs}::text[])
        on conflict (id) do nothing
        returning ${columns(sql)}`;
      if (!rows[0]) throw new ConflictError(`device group '${group.id}' already exists`);
      return toGroup(rows[0]);
    },

    get,

    async list(options: { limit: number; after?: string }) {
      const rows = await sql<Row[]>`
        select ${columns(sql)} from device_groups
        ${options.after ? sql`where id > ${options.after}` : sql``}
        order by id limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit).map(toGroup);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    async update(id: string, patch: GroupPatch): Promise<DeviceGroup> {
      if (patch.query !== undefined && (await get(id)).kind === "static")
        throw new InvalidInputError("static_group", `device group '${id}' is static: it lists its members and has no query to change`);
      const refs = patch.query === undefined ? null : await check(id, patch.query);
      const [row] = await sql<Row[]>`
        update device_groups set
          name = coalesce(${patch.name ?? null}, name),
          description = coalesce(${patch.description ?? null}, description),
          query = coalesce(${patch.query ?? null}, query),
          refs = coalesce(${refs}::text[], refs),
          updated_at = now()
        where id = ${id}
        returning ${columns(sql)}`;
      if (!row) throw new NotFoundError(`device group '${id}' does not exist`);
      return toGroup(row);
    },

    async remove(id: string): Promise<void> {
      await sql.begin(async (tx) => {
        // Locks the group first, so a dynamic group created meanwhile cannot start naming it.
        const [row] = await tx<{ id: string }[]>`select id from device_groups where id = ${id} for update`;
        if (!row) throw new NotFoundError(`device group '${id}' does not exist`);
        const naming = await tx<{ id: string }[]>`select id from device_groups where refs @> ${[id]}::text[] order by id limit 10`;
        if (naming.length > 0)
          throw new ConflictError(`device group '${id}' is named by the query of ${naming.map((n) => `'${n.id}'`).join(", ")}; change those first`);
        await tx`delete from device_groups where id = ${id}`;
      });
    },

    async addMembers(id: string, deviceIds: string[]): Promise<number> {
      const ids = [...new Set(deviceIds)];
      if (ids.length > MAX_MEMBERS_PER_CALL)
        throw new InvalidInputError("too_many_devices", `${ids.length} devices in one call; at most ${MAX_MEMBERS_PER_CALL}`);
      return sql.begin(async (tx) => {
        const [group] = await tx<{ query: string | null }[]>`select query from device_groups where id = ${id} for share`;
        if (!group) throw new NotFoundError(`device group '${id}' does not exist`);
        if (group.query !== null)
          throw new InvalidInputError("dynamic_group", `device group '${id}' is dynamic: its members are the devices its query matches`);
        const known = await tx<{ id: string }[]>`select id from devices where id = any(${ids}::text[]) for share`;
        if (known.length < ids.length) {
          const found = new Set(known.map((k) => k.id));
          const missing = ids.filter((d) => !found.has(d));
          throw new InvalidInputError(
            "unknown_device",
            `${missing.length} of the devices do not exist: ${missing
              .slice(0, 10)
              .map((m) => `'${m}'`)
              .join(", ")}${missing.length > 10 ? " and more" : ""}`,
            { missing: missing.slice(0, 1000) },
          );
        }
        const added = await tx`
          insert into device_group_members (group_id, device_id)
          select ${id}, unnest(${ids}::text[])
          on conflict do nothing`;
        return added.count;
      });
    },

    async removeMember(id: string, deviceId: string): Promise<void> {
      const result = await sql`delete from device_group_members where group_id = ${id} and device_id = ${deviceId}`;
      if (result.count === 0) throw new NotFoundError(`device '${deviceId}' is not listed in device group '${id}'`);
    },

    async groupsOf(deviceId: string): Promise<string[]> {
      const rows = await sql<{ groupId: string }[]>`
        select group_id as "groupId" from device_group_members where device_id = ${deviceId} order by group_id`;
      return rows.map((r) => r.groupId);
    },
  };
}
