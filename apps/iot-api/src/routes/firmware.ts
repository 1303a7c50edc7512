import { Elysia, t } from "elysia";
import { needs } from "../access";
import { ForbiddenError, InvalidInputError, UmosError } from "@umos/core";
import type { FirmwarePackage, FirmwareRepository } from "@umos/store";
import type { FirmwareLinks } from "@umos/auth";
import type { PackageStorage } from "../firmware/storage";
import { API_PREFIX, ErrorBody, Limit, Vendor } from "../schemas";

const FirmwareSchema = t.Object({
  id: t.String(),
  vendor: Vendor,
  model: t.Nullable(t.String()),
  version: t.String(),
  fileName: t.String(),
  size: t.Number(),
  sha256: t.String(),
  md5: t.String(),
  notes: t.String(),
  createdBy: t.Nullable(t.String()),
  createdAt: t.Date(),
});

export interface FirmwareRouteParts {
  packages: FirmwareRepository;
  storage: PackageStorage;
  /** Null when no key is configured: links cannot be made or checked. */
  links: FirmwareLinks | null;
  maxBytes: number;
  urlTtlSec: number;
  publicUrl: string | undefined;
  callerOf(request: Request): string;
}

/** The firmware upload path, whose body is streamed to storage under firmware.maxBytes (app.ts). */
export const FIRMWARE_UPLOAD_PATH = `${API_PREFIX}/firmware`;

/** Firmware packages (docs/fleet.md): streamed uploads with their checksums, and signed, resumable downloads. */
export function firmwareRoutes({ packages, storage, links, maxBytes, urlTtlSec, publicUrl, callerOf }: FirmwareRouteParts) {
  const linksOrRefuse = () => {
    if (!links) throw new UmosError("not_configured", "download links need a key: set firmware.urlSecret (or auth.secret with HS256)", false);
    return links;
  };

  return new Elysia({ prefix: "/firmware", tags: ["firmware"] })
    .post(
      "/",
      async ({ query, request, set }) => {
        if (!request.body) throw new InvalidInputError("empty_package", "send the package file as the request body (application/octet-stream)");
        const id = Bun.randomUUIDv7();
        const stored = await storage.put(id, request.body, maxBytes);
        const pkg = await packages
          .create({
            id,
            vendor: query.vendor,
            model: query.model ?? null,
            version: query.version,
            fileName: query.fileName,
            notes: query.notes ?? "",
            createdBy: callerOf(request),
            ...stored,
          })
          .catch(async (err: unknown) => {
            await storage.remove(id);
            throw err;
          });
        set.status = 201;
        set.headers.location = `${API_PREFIX}/firmware/${pkg.id}`;
        return pkg;
      },
      {
        // The body is streamed to storage by the handler, never parsed or held whole.
        parse: "none",
        query: t.Object({
          vendor: Vendor,
          version: t.String({ pattern: "^[A-Za-z0-9._+-]{1,64}$", description: "the version the device reports once updated" }),
          fileName: t.String({ pattern: "^[A-Za-z0-9._+-]{1,200}$" }),
          model: t.Optional(t.String({ minLength: 1, maxLength: 128, description: "the thing model (or product) it is for; omitted: any of the vendor's" })),
          notes: t.Optional(t.String({ maxLength: 4000 })),
        }),
        response: { 201: FirmwareSchema, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody },
        detail: needs("admin", {
          summary: "Upload a firmware package as the raw request body (streamed, up to firmware.maxBytes); sha256 and md5 are computed on the way",
        }),
      },
    )
    .get("/", ({ query }) => packages.list({ limit: query.limit ?? 50, before: query.before, vendor: query.vendor, model: query.model }), {
      query: t.Object({
        limit: t.Optional(Limit),
        before: t.Optional(t.String({ format: "uuid" })),
        vendor: t.Optional(Vendor),
        model: t.Optional(t.String({ maxLength: 128 })),
      }),
      response: t.Object({ items: t.Array(FirmwareSchema), nextCursor: t.Nullable(t.String()) }),
      detail: needs("viewer", { summary: "Firmware packages, newest first (pass nextCursor as before)" }),
    })
    .get("/:id", ({ params }) => packages.get(params.id), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: FirmwareSchema, 404: ErrorBody },
      detail: needs("viewer", { summary: "A firmware package" }),
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await packages.remove(params.id);
        await storage.remove(params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String({ format: "uuid" }) }),
        response: { 204: t.Void(), 404: ErrorBody },
        detail: needs("admin", { summary: "Delete a firmware package and its file" }),
      },
    )
    .post(
      "/:id/links",
      async ({ params, body, request }) => {
        const pkg = await packages.get(params.id);
        const base = publicUrl ?? new URL(request.url).origin;
        return { ...linksOrRefuse().sign(pkg.id, base, body?.ttlSec ?? urlTtlSec), sha256: pkg.sha256, md5: pkg.md5, size: pkg.size };
      },
      {
        params: t.Object({ id: t.String({ format: "uuid" }) }),
        body: t.Optional(t.Object({ ttlSec: t.Optional(t.Integer({ minimum: 60, maximum: 30 * 86_400 })) }, { additionalProperties: false })),
        response: {
          200: t.Object({ url: t.String(), expiresAt: t.Date(), sha256: t.String(), md5: t.String(), size: t.Number() }),
          404: ErrorBody,
          501: ErrorBody,
        },
        detail: needs("operator", {
          summary: "A signed download link for a package, valid for ttlSec (default firmware.urlTtlSec); devices download with it, no token needed",
        }),
      },
    )
    .get(
      "/:id/download",
      async ({ params, query, request }) => {
        // Without a key no link is valid: the same 403, telling a stranger nothing of the setup.
        if (!links?.valid(params.id, query.expires ?? null, query.signature ?? null))
          throw new ForbiddenError("the download link is not valid or has expired; ask for a new one");
        const pkg = await packages.get(params.id);
        return download(pkg, await storage.open(pkg.id), request.headers.get("range"));
      },
      {
        params: t.Object({ id: t.String({ format: "uuid" }) }),
        query: t.Object({ expires: t.Optional(t.String({ maxLength: 12 })), signature: t.Optional(t.String({ maxLength: 64 })) }),
        detail: needs("signed", {
          summary: "Download a package by its signed link; Range requests resume an interrupted download",
        }),
      },
    );
}

/**
 * The package whole (200) or the one byte range asked for (206), with what a resuming client needs:
 * its length, `Accept-Ranges` and an ETag of its sha256. A range past the end is 416.
 */
function download(pkg: FirmwarePackage, file: Blob, range: string | null): Response {
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "content-disposition": `attachment; filename="${pkg.fileName}"`,
    "accept-ranges": "bytes",
    etag: `"${pkg.sha256}"`,
    "cache-control": "private, no-store",
  };
  if (!range) return new Response(file, { headers: { ...headers, "content-length": String(file.size) } });
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  const size = file.size;
  let start: number;
  let end: number;
  if (m && m[1] !== "") {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  } else if (m && m[2] !== "") {
    // A suffix: the last N bytes.
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number.NaN;
    end = Number.NaN;
  }
  if (!(start <= end) || start >= size) return new Response(null, { status: 416, headers: { ...headers, "content-range": `bytes */${size}` } });
  return new Response(file.slice(start, end + 1), {
    status: 206,
    headers: { ...headers, "content-range": `bytes ${start}-${end}/${size}`, "content-length": String(end - start + 1) },
  });
}
