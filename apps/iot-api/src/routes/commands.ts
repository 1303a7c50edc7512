import { Elysia, t } from "elysia";
import { needs } from "../access";
import { publishStatus, type Publisher } from "@umos/bus";
import { CommandStatusSchema, KINDS } from "@umos/contracts";
import { ConflictError } from "@umos/core";
import type { CommandRepository } from "@umos/store";
import type { createCommandIntake } from "../command-intake";

import { Accepted, accepted, ErrorBody, IdempotencyHeaders, Limit } from "../schemas";

const Status = CommandStatusSchema;

export const CommandSchema = t.Object({
  id: t.String(),
  deviceId: t.String(),
  vendor: t.String(),
  kind: t.String({ description: "service.call or property.set" }),
  service: t.Nullable(t.String()),
  params: t.Unknown(),
  status: Status,
  output: t.Unknown({ description: "the device's answer, once acked or failed" }),
  reason: t.Nullable(t.String()),
  timeoutMs: t.Integer(),
  expiresAt: t.Nullable(t.Date()),
  sentAt: t.Nullable(t.Date()),
  deadlineAt: t.Nullable(t.Date()),
  createdAt: t.Date(),
  updatedAt: t.Date(),
  traceparent: t.Nullable(t.String({ description: "W3C traceparent of the request that created it, when traced: its trace id finds the command's trace" })),
});

export function commandRoutes(submit: ReturnType<typeof createCommandIntake>, commands: CommandRepository, publisher: Publisher) {
  return new Elysia({ tags: ["commands"] })
    .post(
      "/devices/:id/commands",
      async ({ params, body, headers, set }) => {
        const result = await submit(params.id, {
          kind: KINDS.serviceCall,
          service: body.service,
          params: body.params ?? {},
          timeoutMs: body.timeoutMs,
          ttlMs: body.ttlMs,
          idempotencyKey: headers["idempotency-key"],
        });
        return accepted(set, result);
      },
      {
        params: t.Object({ id: t.String() }),
        headers: IdempotencyHeaders,
        body: t.Object(
          {
            service: t.String({ minLength: 1, maxLength: 128, description: "a service identifier of the device's thing model" }),
            params: t.Optional(t.Record(t.String(), t.Unknown(), { description: "checked against the service's inputData" })),
            timeoutMs: t.Optional(t.Integer({ minimum: 100, description: "from sent to the device's answer" })),
            ttlMs: t.Optional(t.Integer({ minimum: 100, description: "how long it may wait for an offline device" })),
          },
          { additionalProperties: false },
        ),
        response: { 202: Accepted, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        detail: needs("operator", {
          summary: "Send a command to a device",
          description: "Answers 202 with the command id to follow. A retry with the same Idempotency-Key header returns the first command.",
        }),
      },
    )
    .get(
      "/devices/:id/commands",
      ({ params, query }) => commands.listForDevice(params.id, { limit: query.limit ?? 50, status: query.status, before: query.before }),
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({ limit: t.Optional(Limit), status: t.Optional(Status), before: t.Optional(t.String({ format: "uuid" })) }),
        response: t.Object({ items: t.Array(CommandSchema), nextCursor: t.Nullable(t.String()) }),
        detail: needs("viewer", { summary: "A device's commands, newest first, optionally of one status" }),
      },
    )
    .get("/commands/:id", ({ params }) => commands.withHistory(params.id), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: {
        200: t.Composite([CommandSchema, t.Object({ history: t.Array(t.Object({ status: t.String(), reason: t.Nullable(t.String()), at: t.Date() })) })]),
        404: ErrorBody,
      },
      detail: needs("viewer", { summary: "A command, its status and every transition with its time and reason" }),
    })
    .delete(
      "/commands/:id",
      async ({ params }) => {
        const cancelled = await commands.transition(params.id, ["queued"], "cancelled", { reason: "cancelled through the API" });
        if (!cancelled) {
          const current = await commands.get(params.id);
          throw new ConflictError(`command '${params.id}' is ${current.status}; only a queued command can be cancelled`);
        }
        await publishStatus(publisher, cancelled);
        return cancelled;
      },
      {
        params: t.Object({ id: t.String({ format: "uuid" }) }),
        response: { 200: CommandSchema, 404: ErrorBody, 409: ErrorBody },
        detail: needs("operator", { summary: "Cancel a command that has not been sent yet" }),
      },
    );
}
