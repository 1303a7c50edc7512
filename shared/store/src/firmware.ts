import type { Vendor } from "@umos/contracts";
import { ConflictError, NotFoundError } from "@umos/core";
import type { Sql } from "./database";

/** A firmware package's record; its file is in iot-api's package storage under the id (docs/fleet.md). */
export interface FirmwarePackage {
  id: string;
  vendor: Vendor;
  model: string | null;
  version: string;
  fileName: string;
  size: number;
  sha256: string;
  md5: string;
  notes: string;
  createdBy: string | null;
  createdAt: Date;
}

export type NewFirmwarePackage = Omit<FirmwarePackage, "createdAt">;

export interface FirmwareRepository {
  /** 409 when the vendor and model already have that version. */
  create(pkg: NewFirmwarePackage): Promise<FirmwarePackage>;
  get(id: string): Promise<FirmwarePackage>;
  /** Newest first; `before` is the last id of the previous page. */
  list(options: { limit: number; before?: string; vendor?: Vendor; model?: string }): Promise<{ items: FirmwarePackage[]; nextCursor: string | null }>;
  remove(id: string): Promise<void>;
}

const columns = (sql: Sql) => sql`
  id, vendor, model, version, file_name as "fileName", size::float8 as size, sha256, md5, notes, created_by as "createdBy", created_at as "createdAt"`;

export function firmwareRepository(sql: Sql): FirmwareRepository {
  const get = async (id: string): Promise<FirmwarePackage> => {
    const [row] = await sql<FirmwarePackage[]>`select ${columns(sql)} from firmware_packages where id = ${id}`;
    if (!row) throw new NotFoundError(`firmware package '${id}' does not exist`);
    return row;
  };
  return {
    async create(pkg) {
      try {
        const [row] = await sql<FirmwarePackage[]>`
          insert into firmware_packages (id, vendor, model, version, file_name, size, sha256, md5, notes, created_by)
          values (${pkg.id}, ${pkg.vendor}, ${pkg.model}, ${pkg.version}, ${pkg.fileName}, ${pkg.size}, ${pkg.sha256}, ${pkg.md5}, ${pkg.notes}, ${pkg.createdBy})
          returning ${columns(sql)}`;
        return row!;
      } catch (err) {
        if ((err as { code?: string }).code === "23505")
          throw new ConflictError(`${pkg.vendor}${pkg.model ? ` model '${pkg.model}'` : ""} already has a package of version '${pkg.version}'`);
        throw err;
      }
    },
    get,
    async list(options) {
      const rows = await sql<FirmwarePackage[]>`
        select ${columns(sql)} from firmware_packages
        where true ${options.before ? sql`and id < ${options.before}::uuid` : sql``}
          ${options.vendor ? sql`and vendor = ${options.vendor}` : sql``} ${options.model ? sql`and model = ${options.model}` : sql``}
        order by id desc limit ${options.limit + 1}`;
      const items = rows.slice(0, options.limit);
      return { items, nextCursor: rows.length > options.limit ? items[items.length - 1]!.id : null };
    },
    async remove(id) {
      const result = await sql`delete from firmware_packages where id = ${id}`;
      if (result.count === 0) throw new NotFoundError(`firmware package '${id}' does not exist`);
    },
  };
}

/** The package for a device: the one of its vendor and thing model, else the one of its vendor for any model. */
export function packageFor(packages: readonly FirmwarePackage[], device: { vendor: Vendor; modelId: string | null }): FirmwarePackage | undefined {
  const ofVendor = packages.filter((p) => p.vendor === device.vendor);
  return ofVendor.find((p) => p.model !== null && p.model === device.modelId) ?? ofVendor.find((p) => p.model === null);
}
