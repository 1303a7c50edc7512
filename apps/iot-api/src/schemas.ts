import { t } from "elysia";
import { VendorSchema } from "@umos/contracts";

/** Where the REST API lives; every route of routes/ is under it. */
export const API_PREFIX = "/api/v1";

/** A device id is one MQTT topic level and one routing-key-safe name. */
export const DeviceId = t.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "Unique device id; letters, digits and . _ : -" });
// Not t.UnionEnum: Elysia 1.4 fills an omitted optional UnionEnum query parameter with its first member.
export const Vendor = VendorSchema;
export const Tags = t.Array(t.String({ pattern: "^[A-Za-z0-9._:/-]{1,64}$" }), {
  maxItems: 32,
  uniqueItems: true,
  description: 'labels to find devices by (tag = "roof"); letters, digits and . _ : / -',
});
export const Metadata = t.Record(t.String(), t.Unknown(), { description: "Free-form labels and attributes" });

/** A thing model version is a PostgreSQL integer column: a larger number names no version and must not reach a query. */
export const MAX_VERSION = 2_147_483_647;

export const ModelRef = t.Object(
  { id: t.String(), version: t.Optional(t.Integer({ minimum: 1, maximum: MAX_VERSION, description: "omitted: the model's latest version" })) },
  { additionalProperties: false },
);

export const Device = t.Object({
  id: t.String(),
  vendor: Vendor,
  name: t.String(),
  metadata: t.Record(t.String(), t.Unknown()),
  tags: t.Array(t.String()),
  model: t.Nullable(t.Object({ id: t.String(), version: t.Integer() })),
  parentId: t.Nullable(t.String({ description: "the gateway this device is reached through (from the gateway's topology reports)" })),
  online: t.Boolean(),
  lastSeenAt: t.Nullable(t.Date()),
  firmwareVersion: t.Nullable(t.String({ description: "the firmware it reports (its firmware_version property)" })),
  createdAt: t.Date(),
  updatedAt: t.Date(),
});

export const ErrorBody = t.Object({
  error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Unknown()) }),
});

export const Limit = t.Integer({ minimum: 1, maximum: 500, default: 50 });

export const IdempotencyHeaders = t.Object({
  "idempotency-key": t.Optional(t.String({ minLength: 1, maxLength: 128, description: "a retry with the same key returns the first command" })),
});

export const Accepted = t.Object({ id: t.String(), status: t.String() });

/** 202 for a command taken in: where to follow it, and whether this was an idempotent replay. */
export function accepted(
  set: { status?: number | string; headers: Record<string, unknown> },
  result: { command: { id: string; status: string }; replayed: boolean },
) {
  set.status = 202;
  set.headers.location = `${API_PREFIX}/commands/${result.command.id}`;
  if (result.replayed) set.headers["idempotent-replayed"] = "true";
  return { id: result.command.id, status: result.command.status };
}
