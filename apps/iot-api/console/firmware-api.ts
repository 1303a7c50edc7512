import { api, send } from "./api";

/** The firmware packages REST API (apps/iot-api/src/routes/firmware.ts) as the console uses it; times are RFC 3339. */

export type Vendor = "dji" | "tuya" | "generic";

export interface FirmwarePackage {
  id: string;
  vendor: Vendor;
  /** The thing model (or product) it is for; null: any of the vendor's. */
  model: string | null;
  /** What the device reports as its firmware_version once updated. */
  version: string;
  fileName: string;
  size: number;
  sha256: string;
  md5: string;
  notes: string;
  createdBy: string | null;
  createdAt: string;
}

/** What an upload says of its file; empty model and notes are left out. */
export interface PackageFields {
  vendor: Vendor;
  version: string;
  model: string;
  notes: string;
}

const FIRMWARE = "/api/v1/firmware";

/** Packages newest first, page after page up to `max`. */
export async function packageList(max: number): Promise<{ items: FirmwarePackage[]; more: boolean }> {
  const items: FirmwarePackage[] = [];
  let before: string | null = null;
  do {
    const params = new URLSearchParams({ limit: String(Math.min(500, max - items.length)) });
    if (before) params.set("before", before);
    const page: { items: FirmwarePackage[]; nextCursor: string | null } = await api(`${FIRMWARE}?${params}`);
    items.push(...page.items);
    before = page.nextCursor;
  } while (before && items.length < max);
  return { items, more: before !== null };
}

/**
 * The file as the raw body, which fetch streams rather than reads whole; 409 for a version the vendor
 * and model already have, 413 past firmware.maxBytes.
 */
export function uploadPackage(file: File, fields: PackageFields): Promise<FirmwarePackage> {
  const params = new URLSearchParams({ vendor: fields.vendor, version: fields.version, fileName: storedName(file.name) });
  if (fields.model) params.set("model", fields.model);
  if (fields.notes) params.set("notes", fields.notes);
  return send(`${FIRMWARE}?${params}`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: file }).then(
    (res) => res.json() as Promise<FirmwarePackage>,
  );
}

export const deletePackage = (id: string) => api<void>(`${FIRMWARE}/${encodeURIComponent(id)}`, { method: "DELETE" });

/**
 * The API takes file names of `[A-Za-z0-9._+-]{1,200}` (they go into the download's
 * Content-Disposition): any other character of the chosen file's name becomes `_`.
 */
export const storedName = (name: string) => name.replace(/[^A-Za-z0-9._+-]/g, "_").slice(0, 200);
