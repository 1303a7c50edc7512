import { t } from "elysia";
import { VendorSchema } from "@umos/contracts";

/** A device id is one MQTT topic level and one routing-key-safe name. */
export const DeviceId = t.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "Unique device id; letters, digits and . _ : -" });
// Not t.UnionEnum: Elysia 1.4 fills an omitted optional UnionEnum query parameter with its first member.
export const Vendor = VendorSchema;
export const Metadata = t.Record(t.String(), t.Unknown(), { description: "Free-form labels and attributes" });

export const ModelRef = t.Object(
  { id: t.String(), version: t.Optional(t.Integer({ minimum: 1, description: "omitted: the model's latest version" })) },
  { additionalProperties: false },
);

export const Device = t.Object({
  id: t.String(),
  vendor: Vendor,
  name: t.String(),
  metadata: t.Record(t.String(), t.Unknown()),
  model: t.Nullable(t.Object({ id: t.String(), version: t.Integer() })),
  online: t.Boolean(),
  lastSeenAt: t.Nullable(t.Date()),
  createdAt: t.Date(),
  updatedAt: t.Date(),
});

export const ErrorBody = t.Object({
  error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Unknown()) }),
});

export const Limit = t.Integer({ minimum: 1, maximum: 500, default: 50 });
