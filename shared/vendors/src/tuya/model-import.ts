import { InvalidInputError } from "@umos/core";
import { validateDefinition, type DataType, type Definition, type Param } from "@umos/thing-model";

/**
 * A Tuya thing model (`thing/model/get_response`, simple format, docs/protocols.md §2a) as a UMOS
 * definition. A scaled `value` becomes a float in real units with its `scale` kept in specs, so
 * reports are checked in real units and the adapter converts on the wire.
 */
interface TuyaTypeSpec {
  type: string;
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  scale?: number;
  range?: string[];
  maxlen?: number;
  properties?: { code: string; typeSpec: TuyaTypeSpec }[];
  elementTypeSpec?: TuyaTypeSpec;
  maxSize?: number;
}

interface TuyaParam {
  code: string;
  typeSpec: TuyaTypeSpec;
}

interface TuyaModel {
  modelId?: string;
  services?: {
    properties?: (TuyaParam & { accessMode?: string })[];
    events?: (Partial<TuyaParam> & { code: string; outputParams?: TuyaParam[] })[];
    actions?: { code: string; inputParams?: TuyaParam[]; outputParams?: TuyaParam[] }[];
  }[];
}

export function importTuyaModel(document: unknown): Definition {
  const model = ((document as { model?: unknown })?.model ?? document) as TuyaModel;
  if (!Array.isArray(model?.services))
    throw new InvalidInputError("invalid_thing_model", "a Tuya model has a services list (thing/model/get_response, simple format)");
  const definition: Definition = { properties: [], events: [], services: [] };
  for (const service of model.services) {
    for (const p of service.properties ?? []) {
      // Tuya marks reported values ro; rw and wr are writable.
      definition.properties.push({ identifier: p.code, accessMode: p.accessMode === "ro" ? "r" : "rw", dataType: dataType(p.typeSpec, `property ${p.code}`) });
    }
    for (const e of service.events ?? []) {
      definition.events.push({ identifier: e.code, type: "info", outputData: params(e.outputParams, `event ${e.code}`) });
    }
    for (const a of service.actions ?? []) {
      definition.services.push({
        identifier: a.code,
        callType: "async",
        inputData: params(a.inputParams, `action ${a.code}`),
        outputData: params(a.outputParams, `action ${a.code}`),
      });
    }
  }
  return validateDefinition(definition);
}

function params(list: TuyaParam[] | undefined, where: string): Param[] {
  return (list ?? []).map((p) => ({ identifier: p.code, dataType: dataType(p.typeSpec, `${where}.${p.code}`) }));
}

function dataType(spec: TuyaTypeSpec | undefined, where: string): DataType {
  if (!spec || typeof spec.type !== "string") throw new InvalidInputError("invalid_thing_model", `${where}: typeSpec.type is missing`);
  switch (spec.type) {
    case "value": {
      const scale = spec.scale ?? 0;
      const real = (n: number | undefined) => (n === undefined ? undefined : n / 10 ** scale);
      const specs = { min: real(spec.min), max: real(spec.max), step: real(spec.step), unit: spec.unit, ...(scale > 0 ? { scale } : {}) };
      return { type: scale > 0 ? "float" : "int", specs };
    }
    case "float":
    case "double":
      return { type: spec.type, specs: { min: spec.min, max: spec.max, step: spec.step, unit: spec.unit } };
    case "string":
    case "raw":
      return { type: "text", specs: { size: Math.min(spec.maxlen ?? 10_240, 10_240) } };
    case "bool":
      return { type: "bool" };
    case "date":
      return { type: "date" };
    case "enum":
      return { type: "enum", specs: Object.fromEntries((spec.range ?? []).map((v) => [v, v])) };
    case "fault": // a bitmap of fault flags
      return { type: "int", specs: { min: 0 } };
    case "struct":
      return { type: "struct", specs: (spec.properties ?? []).map((f) => ({ identifier: f.code, dataType: dataType(f.typeSpec, `${where}.${f.code}`) })) };
    case "value_array":
    case "string_array":
    case "raw_array":
    case "array": {
      const item = spec.elementTypeSpec ?? { type: spec.type === "value_array" ? "value" : "string" };
      return { type: "array", specs: { size: Math.min(spec.maxSize ?? 512, 512), item: dataType(item, `${where}[]`) } };
    }
    default:
      throw new InvalidInputError("invalid_thing_model", `${where}: Tuya type '${spec.type}' has no UMOS equivalent`);
  }
}
