import { Elysia, t } from "elysia";
import type { DeviceRepository } from "@umos/store";
import { Device, DeviceId, ErrorBody, Limit, Metadata, Vendor } from "../schemas";

export function deviceRoutes(devices: DeviceRepository) {
  return new Elysia({ prefix: "/api/v1/devices", tags: ["devices"] })
    .post(
      "/",
      async ({ body, set }) => {
        const device = await devices.create(body);
        set.status = 201;
        set.headers.location = `/api/v1/devices/${encodeURIComponent(device.id)}`;
        return device;
      },
      {
        body: t.Object({ id: DeviceId, vendor: Vendor, name: t.Optional(t.String({ maxLength: 256 })), metadata: t.Optional(Metadata) }, { additionalProperties: false }),
        response: { 201: Device, 409: ErrorBody },
        detail: { summary: "Register a device" },
      },
    )
    .get("/", ({ query }) => devices.list({ limit: query.limit ?? 50, after: query.after, vendor: query.vendor }), {
      query: t.Object({ limit: t.Optional(Limit), after: t.Optional(t.String()), vendor: t.Optional(Vendor) }),
      response: t.Object({ items: t.Array(Device), nextCursor: t.Nullable(t.String()) }),
      detail: { summary: "List devices, paged by id (pass nextCursor as after)" },
    })
    .get(
      "/:id",
      async ({ params }) => {
        const [device, state] = await Promise.all([devices.get(params.id), devices.state(params.id)]);
        return { ...device, state };
      },
      {
        params: t.Object({ id: t.String() }),
        response: {
          200: t.Composite([Device, t.Object({ state: t.Record(t.String(), t.Object({ value: t.Unknown(), reportedAt: t.Date() })) })]),
          404: ErrorBody,
        },
        detail: { summary: "A device with its latest reported state" },
      },
    )
    .patch("/:id", ({ params, body }) => devices.update(params.id, body), {
      params: t.Object({ id: t.String() }),
      body: t.Object({ name: t.Optional(t.String({ maxLength: 256 })), metadata: t.Optional(Metadata) }, { additionalProperties: false }),
      response: { 200: Device, 404: ErrorBody },
      detail: { summary: "Rename a device or replace its metadata" },
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await devices.remove(params.id);
        set.status = 204;
      },
      { params: t.Object({ id: t.String() }), detail: { summary: "Remove a device with its state, messages and commands" } },
    );
}
