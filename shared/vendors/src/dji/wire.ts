import { Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { MAX_SUB_DEVICES } from "@umos/contracts";

/**
 * The DJI Cloud API envelope (docs/protocols.md §1): tid (one exchange), bid (one business flow),
 * timestamp, gateway, method, data. Parsed tolerantly: DJI's own examples carry timestamp as a
 * string and data as null or {}.
 */
const Data = T.Union([T.Record(T.String(), T.Unknown()), T.Null()]);

export const Frame = T.Object({
  tid: T.Optional(T.String({ maxLength: 128 })),
  bid: T.Optional(T.String({ maxLength: 128 })),
  timestamp: T.Optional(T.Union([T.Number(), T.String()])),
  gateway: T.Optional(T.String()),
  method: T.Optional(T.String({ maxLength: 128 })),
  need_reply: T.Optional(T.Union([T.Number(), T.Boolean()])),
  data: T.Optional(Data),
});
export type Frame = Static<typeof Frame>;

export const MethodFrame = T.Composite([Frame, T.Object({ method: T.String({ minLength: 1, maxLength: 128 }) })]);

export const ReplyFrame = T.Composite([
  Frame,
  T.Object({ tid: T.String({ minLength: 1 }), bid: T.String({ minLength: 1 }), data: T.Object({ result: T.Integer() }, { additionalProperties: true }) }),
]);

export const TopologyFrame = T.Composite([
  Frame,
  T.Object({
    method: T.Literal("update_topo"),
    // Each sn becomes a device id (UMOS registers sub-devices from the topology): the device id rule.
    data: T.Object(
      {
        sub_devices: T.Optional(
          T.Array(T.Object({ sn: T.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$" }) }, { additionalProperties: true }), { maxItems: MAX_SUB_DEVICES }),
        ),
      },
      { additionalProperties: true },
    ),
  }),
]);

export const checkers = {
  frame: TypeCompiler.Compile(Frame),
  method: TypeCompiler.Compile(MethodFrame),
  reply: TypeCompiler.Compile(ReplyFrame),
  topology: TypeCompiler.Compile(TopologyFrame),
};
