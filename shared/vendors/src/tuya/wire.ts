import { Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

/**
 * TuyaLink ("tylink") thing-model frames (docs/protocols.md §2a): msgId (<= 32 chars, echoed by the
 * answer), time (10-digit s or 13-digit ms), data, and sys.ack = 1 when the device wants an answer.
 */
const MsgId = T.String({ minLength: 1, maxLength: 32 });
const Time = T.Union([T.Number(), T.String()]);
const Sys = T.Optional(T.Object({ ack: T.Optional(T.Integer()) }, { additionalProperties: true }));
const Values = T.Record(T.String(), T.Object({ value: T.Unknown(), time: T.Optional(Time) }, { additionalProperties: true }));
const Events = T.Record(
  T.String(),
  T.Object({ outputParams: T.Optional(T.Record(T.String(), T.Unknown())), eventTime: T.Optional(Time) }, { additionalProperties: true }),
);

export const PropertyReport = T.Object({ msgId: MsgId, time: T.Optional(Time), data: Values, sys: Sys, version: T.Optional(T.String()) });

export const EventTrigger = T.Object({
  msgId: MsgId,
  time: T.Optional(Time),
  data: T.Object({ eventCode: T.String({ minLength: 1 }), eventTime: T.Optional(Time), outputParams: T.Optional(T.Record(T.String(), T.Unknown())) }),
  sys: Sys,
});

export const Response = T.Object({
  msgId: MsgId,
  time: T.Optional(Time),
  code: T.Integer(),
  data: T.Optional(T.Object({ actionCode: T.Optional(T.String()), outputParams: T.Optional(T.Unknown()) }, { additionalProperties: true })),
});

export const BatchReport = T.Object({
  msgId: MsgId,
  time: T.Optional(Time),
  data: T.Object({
    properties: T.Optional(Values),
    events: T.Optional(Events),
    // Tuya allows at most 20 sub-devices per batch (code 2123 beyond).
    subDevices: T.Optional(
      T.Array(T.Object({ deviceId: T.String({ minLength: 1 }), properties: T.Optional(Values), events: T.Optional(Events) }), { maxItems: 20 }),
    ),
  }),
  sys: Sys,
});

export type Values = Static<typeof Values>;
export type Events = Static<typeof Events>;

/** `ota/progress/report` (TuyaLink OTA): how far the update of one firmware channel is, 0-100. */
export const OtaProgress = T.Object({
  msgId: MsgId,
  time: T.Optional(Time),
  data: T.Object({ channel: T.Optional(T.Integer({ minimum: 0 })), progress: T.Integer({ minimum: -1, maximum: 100 }) }, { additionalProperties: true }),
});
/** `ota/firmware/report`: the version of each firmware channel, at start (`INIT`) and after an update (`UPDATE`). */
export const OtaFirmwareReport = T.Object({
  msgId: MsgId,
  time: T.Optional(Time),
  data: T.Object(
    {
      bizType: T.Optional(T.String({ maxLength: 32 })),
      otaChannel: T.Array(
        T.Object({ channel: T.Integer({ minimum: 0 }), version: T.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: true }),
        {
          minItems: 1,
          maxItems: 32,
        },
      ),
    },
    { additionalProperties: true },
  ),
});

export const checkers = {
  propertyReport: TypeCompiler.Compile(PropertyReport),
  eventTrigger: TypeCompiler.Compile(EventTrigger),
  response: TypeCompiler.Compile(Response),
  batchReport: TypeCompiler.Compile(BatchReport),
  otaProgress: TypeCompiler.Compile(OtaProgress),
  otaFirmwareReport: TypeCompiler.Compile(OtaFirmwareReport),
};
