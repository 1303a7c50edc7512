import { Elysia, t } from "elysia";
import type { Publisher } from "@umos/bus";
import { HEADERS, KINDS, routingKey, type Envelope } from "@umos/contracts";
import { UnavailableError } from "@umos/runtime";
import type { CommandRepository, DeviceRepository } from "@umos/store";
import { ErrorBody } from "../schemas";

const Command = t.Object({
  id: t.String(),
  deviceId: t.String(),
  vendor: t.String(),
  kind: t.String(),
  service: t.Nullable(t.String()),
  params: t.Unknown(),
  status: t.String(),
  output: t.Unknown(),
  reason: t.Nullable(t.String()),
  createdAt: t.Date(),
  updatedAt: t.Date(),
});

export function commandRoutes(publisher: Publisher, devices: DeviceRepository, commands: CommandRepository) {
  return new Elysia({ tags: ["commands"] })
    .post(
      "/api/v1/devices/:id/commands",
      async ({ params, body, set }) => {
        const device = await devices.get(params.id);
        const command = await commands.create({
          id: Bun.randomUUIDv7(),
          deviceId: device.id,
          vendor: device.vendor,
          kind: KINDS.serviceCall,
          service: body.service,
          params: body.params ?? {},
        });
        const envelope: Envelope = {
          id: Bun.randomUUIDv7(),
          ts: Date.now(),
          vendor: device.vendor,
          deviceId: device.id,
          kind: KINDS.serviceCall,
          correlationId: command.id,
          data: { service: body.service, params: body.params ?? {} },
        };
        try {
          await publisher.publish(routingKey(device.vendor, "service", KINDS.serviceCall), Buffer.from(JSON.stringify(envelope)), {
            messageId: envelope.id,
            contentType: "application/json",
            headers: { [HEADERS.deviceId]: device.id, [HEADERS.vendor]: device.vendor },
          });
        } catch (err) {
          // Never leave a command queued that nothing will ever send.
          await commands.transition(command.id, ["queued"], "failed", { reason: "the message bus did not accept the command" });
          throw new UnavailableError(`command not queued: ${err instanceof Error ? err.message : String(err)}`);
        }
        set.status = 202;
        set.headers.location = `/api/v1/commands/${command.id}`;
        return { id: command.id, status: command.status };
      },
      {
        params: t.Object({ id: t.String() }),
        body: t.Object(
          {
            service: t.String({ minLength: 1, maxLength: 128, description: "Service identifier of the device's thing model" }),
            params: t.Optional(t.Record(t.String(), t.Unknown())),
          },
          { additionalProperties: false },
        ),
        response: { 202: t.Object({ id: t.String(), status: t.String() }), 404: ErrorBody, 503: ErrorBody },
        detail: { summary: "Send a command (service call) to a device; answers with the command id to follow" },
      },
    )
    .get("/api/v1/commands/:id", ({ params }) => commands.get(params.id), {
      params: t.Object({ id: t.String({ format: "uuid" }) }),
      response: { 200: Command, 404: ErrorBody },
      detail: { summary: "A command and its current status" },
    });
}
