import { Type as T, type Static } from "@sinclair/typebox";

/**
 * A thing model in the shape of Alibaba's TSL (docs/protocols.md §3): properties, events and services,
 * each value described by a `dataType {type, specs}`. DJI's own specs use the same shape.
 */
export const DATA_TYPES = ["int", "float", "double", "text", "bool", "enum", "date", "struct", "array"] as const;

const Identifier = T.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,63}$", description: "letters, digits and _; not starting with a digit" });

export const DataTypeSchema = T.Object(
  {
    type: T.Union(DATA_TYPES.map((d) => T.Literal(d))),
    /**
     * int/float/double: {min?, max?, step?, unit?, unitName?, scale?} (scale: Tuya's wire value = real x 10^scale);
     * text: {size?} (max length, <= 10240); bool and enum: labels keyed by value ({"0": "off", "1": "on"}, or
     * Tuya's names {"auto": "auto"}); struct: [{identifier, name, dataType}];
     * array: {size, item: {type, specs?}}.
     */
    specs: T.Optional(T.Unknown()),
  },
  { additionalProperties: false },
);

export const ParamSchema = T.Object(
  { identifier: Identifier, name: T.Optional(T.String({ maxLength: 128 })), dataType: DataTypeSchema, required: T.Optional(T.Boolean()) },
  { additionalProperties: false },
);

export const PropertySchema = T.Object(
  {
    identifier: Identifier,
    name: T.Optional(T.String({ maxLength: 128 })),
    accessMode: T.Union([T.Literal("r"), T.Literal("rw")]),
    required: T.Optional(T.Boolean()),
    dataType: DataTypeSchema,
  },
  { additionalProperties: false },
);

export const EventSchema = T.Object(
  {
    identifier: Identifier,
    name: T.Optional(T.String({ maxLength: 128 })),
    type: T.Union([T.Literal("info"), T.Literal("alert"), T.Literal("error")]),
    outputData: T.Array(ParamSchema, { maxItems: 256, default: [] }),
  },
  { additionalProperties: false },
);

export const ServiceSchema = T.Object(
  {
    identifier: Identifier,
    name: T.Optional(T.String({ maxLength: 128 })),
    callType: T.Union([T.Literal("async"), T.Literal("sync")]),
    inputData: T.Array(ParamSchema, { maxItems: 256, default: [] }),
    outputData: T.Array(ParamSchema, { maxItems: 256, default: [] }),
  },
  { additionalProperties: false },
);

/** What a client sends: any of the three lists may be left out. */
export const DefinitionSchema = T.Object(
  {
    properties: T.Optional(T.Array(PropertySchema, { maxItems: 1024, default: [] })),
    events: T.Optional(T.Array(EventSchema, { maxItems: 256, default: [] })),
    services: T.Optional(T.Array(ServiceSchema, { maxItems: 256, default: [] })),
  },
  { additionalProperties: false },
);

export type DataType = Static<typeof DataTypeSchema>;
export type Param = Static<typeof ParamSchema>;
export type Property = Static<typeof PropertySchema>;
export type ThingEvent = Static<typeof EventSchema>;
export type ThingService = Static<typeof ServiceSchema>;
/** A checked definition, every list present. */
export type Definition = Required<Static<typeof DefinitionSchema>>;
