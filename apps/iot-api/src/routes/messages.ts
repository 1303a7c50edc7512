import { Elysia, t } from "elysia";
import { needs } from "../access";
import type { DeviceRepository, Sql } from "@umos/store";
import { pageMessages } from "@umos/store";
import { ErrorBody, Limit } from "../schemas";

const StoredMessage = t.Object({
  id: t.String(),
  deviceId: t.String(),
  vendor: t.String(),
  kind: t.String(),
  ts: t.Date(),
  receivedAt: t.Date(),
  data: t.Unknown(),
  correlationId: t.Nullable(t.String()),
  problems: t.Nullable(t.Array(t.Object({ path: t.String(), message: t.String() }), { description: "what the thing model found wrong (validation: flag)" })),
});

export function messageRoutes(sql: Sql, devices: DeviceRepository) {
  return new Elysia({ prefix: "/devices", tags: ["messages"] }).get(
    "/:id/messages",
    async ({ params, query }) => {
      await devices.get(params.id);
      return pageMessages(sql, params.id, { limit: query.limit ?? 50, before: query.before, kind: query.kind });
    },
    {
      params: t.Object({ id: t.String() }),
      query: t.Object({
        limit: t.Optional(Limit),
        before: t.Optional(t.String({ format: "uuid", description: "nextCursor of the previous page" })),
        kind: t.Optional(t.String({ description: "e.g. property.report, event.report, status.online" })),
      }),
      response: { 200: t.Object({ items: t.Array(StoredMessage), nextCursor: t.Nullable(t.String()) }), 404: ErrorBody },
      detail: needs("viewer", { summary: "The device's message log, newest first" }),
    },
  );
}
