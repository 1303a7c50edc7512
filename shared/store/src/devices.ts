import { MAX_SUB_DEVICES, type Vendor } from "@umos/contracts";
import { ConflictError, InvalidInputError, NotFoundError } from "@umos/core";
import { json, type Sql } from "./database";
import { deviceFilter, type GroupQueries } from "./device-filter";
import { parseDeviceQuery } from "./device-query";

export interface ModelRef {
  id: string;
  version: number;
}

export interface Device {
  id: string;
  vendor: Vendor;
  name: string;
  metadata: Record<string, unknown>;
  tags: string[];
  model: ModelRef | null;
  /** The gateway this device is reached through (a DJI aircraft's dock), from the gateway's topology reports. */
  parentId: string | null;
  online: boolean;
  lastSeenAt: Date | null;
  /** The firmware it reports (its `firmware_version` property), for lists and firmware updates. */
  firmwareVersion: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewDevice {
  id: string;
  vendor: Vendor;
  name?: string;
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** A thing model; without a version, its latest. */
  model?: { id: string; version?: number };
}

export interface DeviceListOptions {
  limit: number;
  after?: string;
  vendor?: Vendor;
  online?: boolean;
  /** The device query language (docs/fleet.md); a bad query is an InvalidInputError `invalid_query`. */
  query?: string;
}

export interface DevicePage {
  items: Device[];
  nextCursor: string | null;
}

export interface DeviceRoute {
  vendor: Vendor;
  model: ModelRef | null;
  /** The gateway this device speaks through, if any: the only device whose frames may carry its messages. */
  parentId: string | null;
}

type Row = Omit<Device, "model"> & { modelId: string | null; modelVersion: number | null };

const columns = (sql: Sql) => sql`
  id, vendor, name, metadata, tags, model_id as "modelId", model_version as "modelVersion", parent_id as "parentId", online,
  last_seen_at as "lastSeenAt", created_at as "createdAt", updated_at as "updatedAt",
  (select s.value #>> '{}' from device_state s where s.device_id = devices.id and s.property = 'firmware_version') as "firmwareVersion"`;

const toDevice = ({ modelId, modelVersion, ...rest }: Row): Device => ({
  ...rest,
  model: modelId === null ? null : { id: modelId, version: modelVersion! },
});

/** The model version to store: the one named, or the latest of the model. */
const modelVersion = (sql: Sql, model: { id: string; version?: number }) =>
  model.version !== undefined ? sql`${model.version}::int` : sql`(select max(version) from thing_models where id = ${model.id})`;

/** Presence a gateway's topology report changed, or the silence sweep took away. */
export interface PresenceChange {
  id: string;
  vendor: Vendor;
  online: boolean;
}

export interface DevicePatch {
  name?: string;
  metadata?: Record<string, unknown>;
  /** Replaces the device's tags. */
  tags?: string[];
  /** `null` detaches the device from its model. */
  model?: { id: string; version?: number } | null;
  /** A gateway of the device's vendor to speak through; `null`: on its own. */
  parentId?: string | null;
}

/** The device registry: what exists, its model, its gateway, its presence, its latest and desired state. */
export interface DeviceRepository {
  create(device: NewDevice): Promise<Device>;
  /** Devices online now, for `iot_devices_active`. */
  countOnline(): Promise<number>;
  get(id: string): Promise<Device>;
  /** Pages in id order; `after` is the last id of the previous page; `query` in the device query language. */
  list(options: DeviceListOptions): Promise<DevicePage>;
  /** How many devices the same filters match. */
  count(options: Omit<DeviceListOptions, "limit" | "after">): Promise<number>;
  update(id: string, patch: DevicePatch): Promise<Device>;
  remove(id: string): Promise<void>;
  /** Vendor, model and gateway of the given devices that exist; one query for a whole batch. */
  routes(ids: string[]): Promise<Map<string, DeviceRoute>>;
  state(id: string): Promise<Record<string, { value: unknown; reportedAt: Date }>>;
  desired(id: string): Promise<Record<string, { value: unknown; setAt: Date; commandId: string | null }>>;
  /** A gateway's report of its sub-devices: adopts only new ones or its own; returns whose presence changed. */
  applyTopology(gatewayId: string, listed: string[]): Promise<PresenceChange[]>;
  /** Marks offline every online device silent for longer than `silenceMs`; returns them. */
  markSilentOffline(silenceMs: number): Promise<{ id: string; vendor: Vendor; lastSeenAt: Date | null }[]>;
}

export function deviceRepository(sql: Sql): DeviceRepository {
  return {
    async create(device: NewDevice): Promise<Device> {
      const rows = await sql<Row[]>`
        insert into devices (id, vendor, name, metadata, tags, model_id, model_version)
        values (${device.id}, ${device.vendor}, ${device.name ?? ""}, ${json(sql, device.metadata ?? {})}, ${device.tags ?? []}::text[],
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

    async list(options: DeviceListOptions): Promise<DevicePage> {
      const rows = await sql<Row[]>`
        select ${columns(sql)} from devices
        where ${(await conditions(sql, options)).where} ${options.after ? sql`and id > ${options.after}` : sql``}
        order by id limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit).map(toDevice);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },

    async count(options: Omit<DeviceListOptions, "limit" | "after">): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from devices where ${(await conditions(sql, options)).where}`;
      return row!.n;
    },

    /**
     * `model: null` detaches the device from its model. `parentId` moves it under a gateway of its
     * own vendor (`null`: on its own): the one way a device registered on its own comes to speak
     * through a gateway, since a gateway's frames never take it (applyTopology).
     */
    async update(id: string, patch: DevicePatch): Promise<Device> {
      const model = patch.model;
      const parent = patch.parentId;
      if (parent !== undefined && parent !== null) await checkParent(sql, id, parent);
      const [row] = await sql<Row[]>`
        update devices set
          name = coalesce(${patch.name ?? null}, name),
          metadata = coalesce(${patch.metadata ? json(sql, patch.metadata) : null}::jsonb, metadata),
          tags = coalesce(${patch.tags ?? null}::text[], tags),
          ${model === undefined ? sql`` : sql`model_id = ${model?.id ?? null}, model_version = ${model ? modelVersion(sql, model) : null},`}
          ${parent === undefined ? sql`` : sql`parent_id = ${parent},`}
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

    /** Vendor, model and gateway of the given devices that exist; one query for a whole batch. */
    async routes(ids: string[]): Promise<Map<string, DeviceRoute>> {
      const rows = await sql<{ id: string; vendor: Vendor; modelId: string | null; modelVersion: number | null; parentId: string | null }[]>`
        select id, vendor, model_id as "modelId", model_version as "modelVersion", parent_id as "parentId" from devices where id = any(${ids})`;
      return new Map(
        rows.map((r) => [r.id, { vendor: r.vendor, model: r.modelId === null ? null : { id: r.modelId, version: r.modelVersion! }, parentId: r.parentId }]),
      );
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
     *
     * A gateway speaks only for what is its own (docs/design.md §8): a listed device that exists and is not
     * already this gateway's (registered on its own, with credentials of its own, or under another
     * gateway) refuses the whole report with `foreign_sub_device`, and nothing changes. Only an admin
     * moves a device between gateways (PATCH /api/v1/devices/:id `parentId`).
     */
    async applyTopology(gatewayId: string, listed: string[]): Promise<PresenceChange[]> {
      const subDevices = [...new Set(listed)];
      if (subDevices.length > MAX_SUB_DEVICES) {
        throw new InvalidInputError(
          "too_many_sub_devices",
          `gateway '${gatewayId}' lists ${subDevices.length} sub-devices; at most ${MAX_SUB_DEVICES} are taken`,
        );
      }
      return sql.begin(async (tx) => {
        const foreign = await tx<{ id: string }[]>`
          select id from devices where id = any(${subDevices}::text[]) and (id = ${gatewayId} or parent_id is distinct from ${gatewayId})
          order by id for update`;
        if (foreign.length > 0)
          throw foreignSubDevices(
            gatewayId,
            foreign.map((f) => f.id),
          );
        const rows = await tx<{ id: string; vendor: Vendor; online: boolean; upserted: boolean; wasOnline: boolean | null }[]>`
          with gateway as (select id, vendor from devices where id = ${gatewayId}),
          listed as (select unnest(${subDevices}::text[]) as id),
          prev as (select d.id, d.online from devices d where d.parent_id = ${gatewayId} or d.id in (select id from listed)),
          upserted as (
            insert into devices (id, vendor, parent_id, online, last_seen_at)
            select listed.id, gateway.vendor, gateway.id, true, now() from listed cross join gateway
            on conflict (id) do update set online = true, last_seen_at = now(), updated_at = now()
              -- Another gateway's report may have taken a new id since the check above.
              where devices.parent_id = excluded.parent_id
            returning id, vendor, online
          ),
          dropped as (
            update devices set online = false, updated_at = now()
            where parent_id = ${gatewayId} and online and id not in (select id from listed)
            returning id, vendor, online
          )
          select c.id, c.vendor, c.online, c.upserted, prev.online as "wasOnline" from (
            select *, true as upserted from upserted union all select *, false as upserted from dropped
          ) c
          left join prev on prev.id = c.id`;
        const taken = subDevices.filter((id) => !rows.some((r) => r.upserted && r.id === id));
        if (taken.length > 0) throw foreignSubDevices(gatewayId, taken);
        return rows.filter((r) => r.wasOnline !== r.online).map(({ id, vendor, online }) => ({ id, vendor, online }));
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

/** The list filters as one condition on `devices` (wrapped: a fragment is a thenable). */
async function conditions(sql: Sql, options: Omit<DeviceListOptions, "limit" | "after">) {
  const query = options.query ? (await deviceFilter(sql, parseDeviceQuery(options.query), groupQueries(sql))).where : sql`true`;
  return {
    where: sql`${query}
    ${options.vendor ? sql`and vendor = ${options.vendor}` : sql``}
    ${options.online === undefined ? sql`` : sql`and online = ${options.online}`}`,
  };
}

/** The queries of the named groups (null: static), for `group = "x"` in a device query. */
export function groupQueries(sql: Sql): GroupQueries {
  return async (ids) => {
    const rows = await sql<{ id: string; query: string | null }[]>`select id, query from device_groups where id = any(${ids}::text[])`;
    return new Map(rows.map((r) => [r.id, r.query]));
  };
}

function foreignSubDevices(gatewayId: string, ids: string[]): InvalidInputError {
  const shown =
    ids
      .slice(0, 5)
      .map((id) => `'${id}'`)
      .join(", ") + (ids.length > 5 ? ` and ${ids.length - 5} more` : "");
  return new InvalidInputError(
    "foreign_sub_device",
    `gateway '${gatewayId}' reports ${shown} as its sub-device, which is registered on its own or under another gateway; an admin may move it (PATCH /api/v1/devices/:id parentId)`,
  );
}

/** A move under a gateway: one that exists, of the same vendor, itself on its own (no chains, no loops). */
async function checkParent(sql: Sql, id: string, parentId: string): Promise<void> {
  const [pair] = await sql<{ vendor: Vendor; parentVendor: Vendor | null; grandparent: string | null; hasChildren: boolean }[]>`
    select d.vendor, p.vendor as "parentVendor", p.parent_id as grandparent,
      exists (select 1 from devices c where c.parent_id = d.id) as "hasChildren"
    from devices d left join devices p on p.id = ${parentId}
    where d.id = ${id}`;
  if (!pair) throw new NotFoundError(`device '${id}' does not exist`);
  if (pair.parentVendor === null) throw new InvalidInputError("unknown_parent", `gateway '${parentId}' does not exist`);
  if (parentId === id) throw new InvalidInputError("invalid_parent", `device '${id}' cannot be its own gateway`);
  if (pair.parentVendor !== pair.vendor)
    throw new InvalidInputError("invalid_parent", `device '${id}' is ${pair.vendor}; gateway '${parentId}' is ${pair.parentVendor}`);
  if (pair.grandparent !== null)
    throw new InvalidInputError(
      "invalid_parent",
      `'${parentId}' is itself a sub-device of '${pair.grandparent}'; a gateway's sub-device cannot have sub-devices`,
    );
  if (pair.hasChildren) throw new InvalidInputError("invalid_parent", `device '${id}' has sub-devices of its own, so it cannot become one`);
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
