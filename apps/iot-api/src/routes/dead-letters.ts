import { Elysia, t } from "elysia";
import { needs } from "../access";
import { UmosError } from "@umos/core";
import type { DeadLetter, DeadLetterRepository } from "@umos/store";
import type { createDeadLetterReplay } from "../dead-letter-replay";
import { ErrorBody, Limit } from "../schemas";

/** How much of each payload a listing shows. */
const PREVIEW_BYTES = 512;

const Payload = t.Object(
  {
    encoding: t.Union([t.Literal("utf8"), t.Literal("base64")], { description: "utf8 when the bytes are valid UTF-8 text" }),
    data: t.String(),
    truncated: t.Boolean({ description: "true when data is only the head of the payload" }),
  },
  { description: "the original bytes" },
);

const State = t.Union([t.Literal("pending"), t.Literal("replayed")]);

const DeadLetterSchema = t.Object({
  id: t.String(),
  queue: t.String({ description: "the queue it died in (iot-gateway: refused by the gateway before it reached the bus)" }),
  code: t.String({ description: "e.g. malformed_json, invalid_frame, model_violation, unknown_device, payload_too_large, gave_up" }),
  reason: t.String({ description: "what was wrong, naming the field or rule" }),
  routingKey: t.String(),
  messageId: t.Nullable(t.String()),
  contentType: t.Nullable(t.String()),
  deviceId: t.Nullable(t.String()),
  headers: t.Record(t.String(), t.Unknown()),
  payload: Payload,
  size: t.Integer({ description: "payload bytes as dead-lettered" }),
  replayCount: t.Integer({ description: "how many times this message had been replayed before it died this time" }),
  state: State,
  deadLetteredAt: t.Date(),
  replayedAt: t.Nullable(t.Date()),
});

const Filter = {
  queue: t.Optional(t.String({ description: "the queue it died in, e.g. iot-uplink-queue" })),
  code: t.Optional(t.String()),
  deviceId: t.Optional(t.String()),
};
const Id = t.Object({ id: t.String({ format: "uuid" }) });

/** Dead letters (docs/operations.md, Dead letters): inspect, replay after a fix, or delete. Admin only (access.ts). */
export function deadLetterRoutes(deadLetters: DeadLetterRepository, replay: ReturnType<typeof createDeadLetterReplay>) {
  return new Elysia({ prefix: "/dead-letters", tags: ["dead letters"] })
    .get(
      "/",
      async ({ query }) => {
        const page = await deadLetters.page({ ...query, limit: query.limit ?? 50, previewBytes: PREVIEW_BYTES });
        return { items: page.items.map(view), nextCursor: page.nextCursor };
      },
      {
        query: t.Object({
          limit: t.Optional(Limit),
          before: t.Optional(t.String({ format: "uuid", description: "nextCursor of the previous page" })),
          state: t.Optional(State),
          ...Filter,
        }),
        response: { 200: t.Object({ items: t.Array(DeadLetterSchema), nextCursor: t.Nullable(t.String()) }) },
        detail: needs("admin", { summary: "Dead letters, newest first, with the head of each payload" }),
      },
    )
    .get("/:id", async ({ params }) => view(await deadLetters.get(params.id)), {
      params: Id,
      response: { 200: DeadLetterSchema, 404: ErrorBody },
      detail: needs("admin", { summary: "One dead letter with its whole payload" }),
    })
    .post("/:id/replay", async ({ params }) => view(await replay(params.id)), {
      params: Id,
      response: { 200: DeadLetterSchema, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody },
      detail: needs("admin", {
        summary: "Send a dead letter again to the queue it died in",
        description:
          "The original bytes, routing key, message id and headers, without the dead-letter headers and with x-replay-count raised, reach only the queue it died in. The row stays, marked replayed; if the message dies again, that is a new dead letter.",
      }),
    })
    .post(
      "/replay",
      async ({ body }) => {
        const ids = await deadLetters.pendingIds(body, body.limit ?? 100);
        const replayed: string[] = [];
        const failed: { id: string; error: { code: string; message: string } }[] = [];
        // One at a time, oldest first: the order they died in.
        for (const id of ids) {
          try {
            await replay(id);
            replayed.push(id);
          } catch (err) {
            if (!(err instanceof UmosError)) throw err;
            failed.push({ id, error: { code: err.code, message: err.message } });
          }
        }
        return { replayed, failed };
      },
      {
        body: t.Object({ ...Filter, limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 100 })) }, { additionalProperties: false }),
        response: {
          200: t.Object({
            replayed: t.Array(t.String()),
            failed: t.Array(t.Object({ id: t.String(), error: t.Object({ code: t.String(), message: t.String() }) })),
          }),
        },
        detail: needs("admin", { summary: "Replay the pending dead letters matching a filter, oldest first, up to limit" }),
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deadLetters.remove(params.id);
        set.status = 204;
      },
      { params: Id, response: { 204: t.Void(), 404: ErrorBody }, detail: needs("admin", { summary: "Delete a dead letter" }) },
    );
}

function view(row: DeadLetter) {
  const { payload, payloadSize, ...rest } = row;
  return { ...rest, payload: payloadView(payload, payloadSize), size: payloadSize, state: row.replayedAt ? ("replayed" as const) : ("pending" as const) };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Text when the bytes are UTF-8 (a cut may split the last character: up to 3 bytes are dropped then), else base64. */
export function payloadView(bytes: Uint8Array, size: number) {
  const truncated = bytes.byteLength < size;
  for (let drop = 0; drop <= (truncated ? 3 : 0) && drop <= bytes.byteLength; drop++) {
    try {
      return { encoding: "utf8" as const, data: strictUtf8.decode(bytes.subarray(0, bytes.byteLength - drop)), truncated };
    } catch {
      // not text (yet): try a shorter cut, then base64
    }
  }
  return { encoding: "base64" as const, data: Buffer.from(bytes).toString("base64"), truncated };
}
