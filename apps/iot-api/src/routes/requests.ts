import { Elysia, t } from "elysia";
import { needs } from "../access";
import { publishEnvelope, type Publisher } from "@umos/bus";
import { KINDS, routingKey, type Envelope } from "@umos/contracts";
import { NotFoundError, type Clock } from "@umos/core";
import type { DeviceRepository, Sql } from "@umos/store";
import { findRequest } from "@umos/store";
import { ErrorBody } from "../schemas";

/** Applications answer what devices ask (DJI `requests`: media upload credentials, config, ...). */
export function requestRoutes(sql: Sql, devices: DeviceRepository, publisher: Publisher, clock: Clock) {
  return new Elysia({ tags: ["requests"] }).post(
    "/devices/:id/requests/:tid/reply",
    async ({ params, body, set }) => {
      const device = await devices.get(params.id);
      const request = await findRequest(sql, device.id, params.tid);
      if (!request) throw new NotFoundError(`device '${device.id}' has no request with tid '${params.tid}' in its message log`);
      const envelope: Envelope = {
        id: Bun.randomUUIDv7(),
        ts: clock.now(),
        vendor: device.vendor,
        deviceId: device.id,
        kind: KINDS.requestReply,
        data: { tid: params.tid, bid: request.bid, method: request.method, result: body.result, output: body.output },
      };
      await publishEnvelope(publisher, routingKey(device.vendor, "service", KINDS.requestReply), envelope);
      set.status = 202;
      return { id: envelope.id };
    },
    {
      params: t.Object({ id: t.String(), tid: t.String({ minLength: 1, maxLength: 128 }) }),
      body: t.Object(
        {
          result: t.Integer({ description: "0 for success, as the vendor defines it" }),
          output: t.Optional(t.Unknown({ description: "the answer's data.output" })),
        },
        { additionalProperties: false },
      ),
      response: { 202: t.Object({ id: t.String() }), 404: ErrorBody },
      detail: needs("operator", { summary: "Answer a device's request (a `request` message) on its vendor's reply topic" }),
    },
  );
}
