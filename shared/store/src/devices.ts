import type { Vendor } from "@umos/contracts";
import { ConflictError, NotFoundError } from "@umos/runtime";
import type { Sql } from "./database";

export interface Device {
  id: string;
  vendor: Vendor;
  name: string;
  metadata: Record<string, unknown>;
  online: boolean;
  lastSeenAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewDevice {
  id: string;
  vendor: Vendor;
  name?: string;
  metadata?: Record<string, unknown>;
}

export interface DevicePage {
  items: Device[];
  nextCursor: string | null;
}

const columns = (sql: Sql) =>
  sql`id, vendor, name, metadata, online, last_seen_at as "lastSeenAt", created_at as "createdAt", updated_at as "updatedAt"`;

export function deviceRepository(sql: Sql) {
  return {
    async create(device: NewDevice): Promise<Device> {
      const rows = await sql<Device[]>`
        insert into devices (id, vendor, name, metadata)
        values (${device.id}, ${device.vendor}, ${device.name ?? ""}, ${sql.json((device.metadata ?? {}) as never)})
        on conflict (id) do nothing
        returning ${columns(sql)}`;
      if (!rows[0]) throw new ConflictError(`device '${device.id}' already exists`);
      return rows[0];
    },

    async get(id: string): Promise<Device> {
      const [row] = await sql<Device[]>`select ${columns(sql)} from devices where id = ${id}`;
      if (!row) throw new NotFoundError(`device '${id}' does not exist`);
      return row;
    },

    /** Pages in id order; `after` is the last id of the previous page. */
    async list(options: { limit: number; after?: string; vendor?: Vendor }): Promise<DevicePage> {
      const rows = await sql<Device[]>`
        select ${columns(sql)} from devices
        where true
          ${options.after ? sql`and id > ${options.after}` : sql``}
          ${options.vendor ? sql`and vendor = ${options.vendor}` : sql``}
        order by id limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    async update(id: string, patch: { name?: string; metadata?: Record<string, unknown> }): Promise<Device> {
      const [row] = await sql<Device[]>`
        update devices set
          name = coalesce(${patch.name ?? null}, name),
          metadata = coalesce(${patch.metadata ? sql.json(patch.metadata as never) : null}, metadata),
          updated_at = now()
        where id = ${id}
        returning ${columns(sql)}`;
      if (!row) throw new NotFoundError(`device '${id}' does not exist`);
      return row;
    },

    async remove(id: string): Promise<void> {
      const result = await sql`delete from devices where id = ${id}`;
      if (result.count === 0) throw new NotFoundError(`device '${id}' does not exist`);
    },

    /** Vendors of the given devices that exist; one query for a whole batch. */
    async vendorsOf(ids: string[]): Promise<Map<string, Vendor>> {
      const rows = await sql<{ id: string; vendor: Vendor }[]>`select id, vendor from devices where id = any(${ids})`;
      return new Map(rows.map((r) => [r.id, r.vendor]));
    },

    async state(id: string): Promise<Record<string, { value: unknown; reportedAt: Date }>> {
      const rows = await sql<{ property: string; value: unknown; reportedAt: Date }[]>`
        select property, value, reported_at as "reportedAt" from device_state where device_id = ${id} order by property`;
      return Object.fromEntries(rows.map((r) => [r.property, { value: r.value, reportedAt: r.reportedAt }]));
    },
  };
}

export type DeviceRepository = ReturnType<typeof deviceRepository>;
