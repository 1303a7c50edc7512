import { Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { LATEST_TIMESTAMP_MS } from "../wire";

/** Generic device frames (docs/design.md §10). `ts` is ms since the epoch; `id` is unique per device. */
const MessageId = T.String({ minLength: 1, maxLength: 128 });
const Timestamp = T.Number({ minimum: 0, maximum: LATEST_TIMESTAMP_MS });
const Properties = T.Record(T.String({ minLength: 1, maxLength: 128 }), T.Unknown());

export const PropertyReport = T.Object({ id: T.Optional(MessageId), ts: T.Optional(Timestamp), data: Properties });
export const EventReport = T.Object({
  id: T.Optional(MessageId),
  ts: T.Optional(Timestamp),
  event: T.String({ minLength: 1, maxLength: 128 }),
  data: T.Optional(Properties),
  /** The command this event reports on (an update's `ota.progress`): its correlationId. */
  correlationId: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
});
export const ServiceReply = T.Object({
  id: T.Optional(MessageId),
  ts: T.Optional(Timestamp),
  correlationId: T.String({ minLength: 1, maxLength: 128 }),
  code: T.Integer(),
  data: T.Optional(T.Unknown()),
});
export const Status = T.Object({
  id: T.Optional(MessageId),
  ts: T.Optional(Timestamp),
  state: T.Union([T.Literal("online"), T.Literal("offline")]),
});

export type PropertyReport = Static<typeof PropertyReport>;
export type EventReport = Static<typeof EventReport>;
export type ServiceReply = Static<typeof ServiceReply>;
export type Status = Static<typeof Status>;

export const checkers = {
  "property.report": TypeCompiler.Compile(PropertyReport),
  "event.report": TypeCompiler.Compile(EventReport),
  "service.reply": TypeCompiler.Compile(ServiceReply),
  status: TypeCompiler.Compile(Status),
} as const;

export type UplinkAction = keyof typeof checkers;
