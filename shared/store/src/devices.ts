import type { Vendor } from "@umos/contracts";
import { ConflictError, InvalidInputError, NotFoundError } from "@umos/runtime";
import { json, type Sql } from "./database";

export interface ModelRef {
  id: string;
  version: number;
}

export interface Device {
  id: string;
  vendor: Vendor;
  name: string;
  metadata: Record<string, unknown>;
  model: ModelRef | null;
  /** The gateway this device is reached through (a DJI aircraft's dock), from the gateway's topology reports. */
  parentId: string | null;
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
  /** A thing model; without a version, its latest. */
  model?: { id: string; version?: number };
}

export interface DevicePage {
  items: Device[];
  nextCursor: string | null;
}

export interface DeviceRoute {
  vendor: Vendor;
  model: ModelRef | null;
}

type Row = Omit<Device, "model"> & { modelId: string | null; modelVersion: number | null };

const columns = (sql: Sql) => sql`
  id, vendor, name, metadata, model_id as "modelId", model_version as "modelVersion", parent_id as "parentId", online,
  last_seen_at as "lastSeenAt", created_at as "createdAt", updated_at as "updatedAt"`;

const toDevice = ({ modelId, modelVersion, ...rest }: Row): Device => ({
  ...rest,
  model: modelId === null ? null : { id: modelId, version: modelVersion! },
});

/** The model version to store: the one named, or the latest of the model. */
const modelVersion = (sql: Sql, model: { id: string; version?: number }) =>
  model.version !== undefined ? sql`${model.version}::int` : sql`(select max(version) from thing_models where id = ${model.id})`;

export function deviceRepository(sql: Sql) {
  return {
    async create(device: NewDevice): Promise<Device> {
      const rows = await sql<Row[]>`
        insert into devices (id, vendor, name, metadata, model_id, model_version)
        values (${device.id}, ${device.vendor}, ${device.name ?? ""}, ${json(sql, device.metadata ?? {})},
          ${device.model?.id ?? null}, ${device.model ? modelVersion(sql, device.model) : null})
        on conflict (id) do nothing
        returning ${columns(sql)}`.catch(modelError(device.model));
      if (!rows[0]) throw new ConflictError(`device '${device.id}' already exists`);
      return toDevice(rows[0]);
    },

    /** Devices online now, for `iot_devices_active`. */
    async countOnline(): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from devices where online`;
      return row!.n;
    },

    async get(id: string): Promise<Device> {
      const [row] = await sql<Row[]>`select ${columns(sql)} from devices where id = ${id}`;
      if (!row) throw new NotFoundError(`device '${id}' does not exist`);
      return toDevice(row);
    },

    /** Pages in id order; `after` is the last id of the previous page. */
    async list(options: { limit: number; after?: string; vendor?: Vendor; online?: boolean }): Promise<DevicePage> {
      const rows = await sql<Row[]>`
        select ${columns(sql)} from devices
        where true
          ${options.after ? sql`and id > ${options.after}` : sql``}
          ${options.vendor ? sql`and vendor = ${options.vendor}` : sql``}
          ${options.online === undefined ? sql`` : sql`and online = ${options.online}`}
        order by id limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit).map(toDevice);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    /** `model: null` detaches the device from its model. */
    async update(id: string, patch: { name?: string; metadata?: Record<string, unknown>; model?: { id: string; version?: number } | null }): Promise<Device> {
      const model = patch.model;
      const [row] = await sql<Row[]>`
        update devices set
          name = coalesce(${patch.name ?? null}, name),
          metadata = coalesce(${patch.metadata ? json(sql, patch.metadata) : null}::jsonb, metadata),
          ${model === undefined ? sql`` : sql`model_id = ${model?.id ?? null}, model_version = ${model ? modelVersion(sql, model) : null},`}
          updated_at = now()
        where id = ${id}
        returning ${columns(sql)}`.catch(modelError(model ?? undefined));
      if (!row) throw new NotFoundError(`device '${id}' does not exist`);
      return toDevice(row);
    },

    async remove(id: string): Promise<void> {
      const result = await sql`delete from devices where id = ${id}`;
      if (result.count === 0) throw new NotFoundError(`device '${id}' does not exist`);
    },

    /** Vendor and model of the given devices that exist; one query for a whole batch. */
    async routes(ids: string[]): Promise<Map<string, DeviceRoute>> {
      const rows = await sql<{ id: string; vendor: Vendor; modelId: string | null; modelVersion: number | null }[]>`
        select id, vendor, model_id as "modelId", model_version as "modelVersion" from devices where id = any(${ids})`;
      return new Map(rows.map((r) => [r.id, { vendor: r.vendor, model: r.modelId === null ? null : { id: r.modelId, version: r.modelVersion! } }]));
    },

    async state(id: string): Promise<Record<string, { value: unknown; reportedAt: Date }>> {
      const rows = await sql<{ property: string; value: unknown; reportedAt: Date }[]>`
        select property, value, reported_at as "reportedAt" from device_state where device_id = ${id} order by property`;
      return Object.fromEntries(rows.map((r) => [r.property, { value: r.value, reportedAt: r.reportedAt }]));
    },

    async desired(id: string): Promise<Record<string, { value: unknown; setAt: Date; commandId: string | null }>> {
      const rows = await sql<{ property: string; value: unknown; setAt: Date; commandId: string | null }[]>`
        select property, value, set_at as "setAt", command_id as "commandId" from device_desired where device_id = ${id} order by property`;
      return Object.fromEntries(rows.map((r) => [r.property, { value: r.value, setAt: r.setAt, commandId: r.commandId }]));
    },

    /**
     * A gateway's topology report: the listed sub-devices exist (registered on first sight, with the
     * gateway's vendor), belong to the gateway and are online; its other sub-devices are offline.
     * Returns the sub-devices whose presence changed.
     */
    async applyTopology(gatewayId: string, subDevices: string[]): Promise<{ id: string; vendor: Vendor; online: boolean }[]> {
      return sql.begin(async (tx) => {
        const changed = await tx<{ id: string; vendor: Vendor; online: boolean }[]>`
          with gateway as (select id, vendor from devices where id = ${gatewayId}),
          listed as (select unnest(${subDevices}::text[]) as id),
          prev as (select d.id, d.online from devices d where d.parent_id = ${gatewayId} or d.id in (select id from listed)),
          upserted as (
            insert into devices (id, vendor, parent_id, online, last_seen_at)
            select listed.id, gateway.vendor, gateway.id, true, now() from listed cross join gateway
            on conflict (id) do update set parent_id = excluded.parent_id, online = true, last_seen_at = now(), updated_at = now()
            returning id, vendor, online
          ),
          dropped as (
            update devices set online = false, updated_at = now()
            where parent_id = ${gatewayId} and online and id not in (select id from listed)
            returning id, vendor, online
          )
          select c.id, c.vendor, c.online from (select * from upserted union all select * from dropped) c
          left join prev on prev.id = c.id
          where prev.online is distinct from c.online`;
        return changed;
      });
    },

    /** Marks offline every online device silent for longer than `silenceMs`; returns them. */
    async markSilentOffline(silenceMs: number): Promise<{ id: string; vendor: Vendor; lastSeenAt: Date | null }[]> {
      return sql<{ id: string; vendor: Vendor; lastSeenAt: Date | null }[]>`
        update devices set online = false, updated_at = now()
        where online and (last_seen_at is null or last_seen_at < now() - make_interval(secs => ${silenceMs} / 1000.0))
        returning id, vendor, last_seen_at as "lastSeenAt"`;
    },
  };
}

/** A foreign-key failure on the model columns means the model (or that version) does not exist. */
function modelError(model: { id: string; version?: number } | undefined) {
  return (err: unknown): never => {
    const code = (err as { code?: string }).code;
    if (model && (code === "23503" || code === "23514")) {
      const which = model.version === undefined ? `thing model '${model.id}'` : `version ${model.version} of thing model '${model.id}'`;
      throw new InvalidInputError("unknown_model", `${which} does not exist`);
    }
    throw err;
  };
}

export type DeviceRepository = ReturnType<typeof deviceRepository>;
