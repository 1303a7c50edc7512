import { Type as T, type TSchema } from "@sinclair/typebox";
import { InvalidInputError } from "@umos/core";
import type { DataType } from "./definition";

const TEXT_MAX = 10_240; // TSL: text is at most 10,240 bytes
const ARRAY_MAX = 512; // TSL: arrays hold 1-512 items

interface NumberSpecs {
  min?: number | string;
  max?: number | string;
}

/**
 * One TSL dataType as a TypeBox schema. Specs that cannot hold (min above max, an enum key that is
 * not an integer, a struct inside a struct) are refused here, when the model is saved, with the
 * path of the offending spec.
 */
export function dataTypeSchema(dataType: DataType, where: string, insideStruct = false): TSchema {
  if (typeof dataType !== "object" || dataType === null) bad(where, "a dataType is an object {type, specs}");
  const specs = (dataType.specs ?? {}) as Record<string, unknown>;
  switch (dataType.type) {
    case "int":
    case "float":
    case "double": {
      const { min, max } = numberSpecs(specs as NumberSpecs, where);
      const bounds = { ...(min === undefined ? {} : { minimum: min }), ...(max === undefined ? {} : { maximum: max }) };
      return dataType.type === "int" ? T.Integer(bounds) : T.Number(bounds);
    }
    case "text": {
      const size = specs.size === undefined ? TEXT_MAX : Number(specs.size);
      if (!Number.isInteger(size) || size < 1 || size > TEXT_MAX) bad(where, `text size must be an integer from 1 to ${TEXT_MAX}`);
      return T.String({ maxLength: size });
    }
    case "bool":
      // TSL sends bool as 0/1; JSON devices send true/false. Both are the same value.
      return T.Union([T.Boolean(), T.Literal(0), T.Literal(1)]);
    case "enum": {
      // TSL keys enums by integer; Tuya's enums are strings ("auto", "manual"). A model uses one or the other.
      const keys = Object.keys(specs);
      if (keys.length === 0) bad(where, "an enum needs at least one value in specs");
      const numeric = keys.every((k) => /^-?[0-9]+$/.test(k));
      if (!numeric && keys.some((k) => /^-?[0-9]+$/.test(k))) bad(where, `enum values mix integers and names: ${keys.join(", ")}`);
      const values = keys.map((k) => T.Literal(numeric ? Number(k) : k));
      return values.length === 1 ? values[0]! : T.Union(values);
    }
    case "date":
      // TSL dates are UTC ms, as a number or a digit string.
      return T.Union([T.Integer({ minimum: 0 }), T.String({ pattern: "^[0-9]{1,16}$" })]);
    case "struct": {
      if (insideStruct) bad(where, "a struct cannot hold a struct (TSL)");
      if (!Array.isArray(specs)) bad(where, "struct specs must be a list of {identifier, dataType}");
      const fields: Record<string, TSchema> = {};
      for (const [i, field] of (specs as unknown as ({ identifier?: unknown; dataType?: DataType } | null)[]).entries()) {
        if (typeof field !== "object" || field === null || typeof field.identifier !== "string" || !field.dataType) {
          bad(`${where}[${i}]`, "each struct field needs identifier and dataType");
        }
        fields[field!.identifier as string] = T.Optional(dataTypeSchema(field!.dataType!, `${where}.${field!.identifier}`, true));
      }
      return T.Object(fields, { additionalProperties: false });
    }
    case "array": {
      const size = Number(specs.size ?? ARRAY_MAX);
      if (!Number.isInteger(size) || size < 1 || size > ARRAY_MAX) bad(where, `array size must be an integer from 1 to ${ARRAY_MAX}`);
      const item = specs.item as DataType | undefined;
      if (!item || !["int", "float", "double", "text", "struct"].includes(item.type)) bad(where, "array item must be int, float, double, text or struct");
      return T.Array(dataTypeSchema(item!, `${where}[]`), { maxItems: size });
    }
    default:
      return bad(where, `unknown data type ${(dataType as { type: string }).type}`);
  }
}

function numberSpecs(specs: NumberSpecs, where: string): { min?: number; max?: number } {
  const min = specs.min === undefined ? undefined : Number(specs.min);
  const max = specs.max === undefined ? undefined : Number(specs.max);
  if (min !== undefined && !Number.isFinite(min)) bad(where, "min is not a number");
  if (max !== undefined && !Number.isFinite(max)) bad(where, "max is not a number");
  if (min !== undefined && max !== undefined && min > max) bad(where, `min ${min} is above max ${max}`);
  return { min, max };
}

function bad(where: string, message: string): never {
  throw new InvalidInputError("invalid_thing_model", `${where}: ${message}`, { path: where });
}
