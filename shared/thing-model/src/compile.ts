import { Type as T, type TObject, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { InvalidInputError } from "@umos/core";
import { dataTypeSchema } from "./data-type";
import { DefinitionSchema, type Definition, type Param } from "./definition";

/** One thing a message or command got wrong, named by its path ("temperature", "params.speed"). */
export interface Problem {
  path: string;
  message: string;
}

export interface CompiledModel {
  /** `id@version`, for messages. */
  readonly ref: string;
  checkPropertyReport(data: Record<string, unknown>): Problem[];
  checkEvent(identifier: string, data: Record<string, unknown>): Problem[];
  checkServiceCall(identifier: string, params: Record<string, unknown>): Problem[];
  checkPropertySet(data: Record<string, unknown>): Problem[];
}

const definitionChecker = TypeCompiler.Compile(DefinitionSchema);

/**
 * Checks a model definition as a whole (shape, specs, unique identifiers) and returns it with
 * defaults filled. Throws InvalidInputError naming the first bad path.
 */
export function validateDefinition(input: unknown): Definition {
  const raw = Value.Default(DefinitionSchema, structuredClone(input)) as Definition;
  if (!definitionChecker.Check(raw)) {
    const first = definitionChecker.Errors(raw).First();
    throw new InvalidInputError("invalid_thing_model", `${first?.path || "/"}: ${first?.message ?? "invalid"}`, { path: first?.path });
  }
  for (const [list, name] of [
    [raw.properties, "properties"],
    [raw.events, "events"],
    [raw.services, "services"],
  ] as const) {
    const seen = new Set<string>();
    for (const item of list) {
      if (seen.has(item.identifier)) throw new InvalidInputError("invalid_thing_model", `${name}: identifier '${item.identifier}' appears twice`);
      seen.add(item.identifier);
    }
  }
  compileModel(raw, "validation"); // compiling checks every dataType's specs
  return raw;
}

/** Compiles a model version once into checkers; callers cache the result per `id@version`. */
export function compileModel(definition: Definition, ref: string): CompiledModel {
  const properties = new Map(
    definition.properties.map((p, i) => [p.identifier, { ...p, schema: dataTypeSchema(p.dataType, `properties[${i}].${p.identifier}`) }]),
  );
  const report = TypeCompiler.Compile(
    T.Object(Object.fromEntries([...properties].map(([id, p]) => [id, T.Optional(p.schema)])), { additionalProperties: false }),
  );
  const writable = [...properties].filter(([, p]) => p.accessMode === "rw");
  const set = TypeCompiler.Compile(T.Object(Object.fromEntries(writable.map(([id, p]) => [id, T.Optional(p.schema)])), { additionalProperties: false }));
  const events = new Map(definition.events.map((e, i) => [e.identifier, TypeCompiler.Compile(paramsObject(e.outputData, `events[${i}].${e.identifier}`))]));
  const services = new Map(
    definition.services.map((s, i) => [s.identifier, TypeCompiler.Compile(paramsObject(s.inputData, `services[${i}].${s.identifier}`))]),
  );

  return {
    ref,
    checkPropertyReport: (data) => problems(report, data, "", (_key) => `not a property of thing model ${ref}`),
    checkEvent(identifier, data) {
      const checker = events.get(identifier);
      if (!checker) return [{ path: "event", message: `'${identifier}' is not an event of thing model ${ref}` }];
      return problems(checker, data, "data.", () => `not an output of event '${identifier}'`);
    },
    checkServiceCall(identifier, params) {
      const checker = services.get(identifier);
      if (!checker) return [{ path: "service", message: `'${identifier}' is not a service of thing model ${ref}` }];
      return problems(checker, params, "params.", () => `not an input of service '${identifier}'`);
    },
    checkPropertySet(data) {
      const readOnly = Object.keys(data).filter((key) => properties.get(key)?.accessMode === "r");
      if (readOnly.length > 0) return readOnly.map((key) => ({ path: key, message: "is read-only (accessMode r)" }));
      return problems(set, data, "", () => `not a property of thing model ${ref}`);
    },
  };
}

function paramsObject(params: Param[], where: string): TObject {
  const fields: Record<string, TSchema> = {};
  for (const p of params) {
    const schema = dataTypeSchema(p.dataType, `${where}.${p.identifier}`);
    fields[p.identifier] = p.required ? schema : T.Optional(schema);
  }
  return T.Object(fields, { additionalProperties: false });
}

/** TypeBox errors as problems named by property; an unknown key gets the caller's wording. */
function problems(checker: TypeCheck<TSchema>, value: unknown, prefix: string, unknownKey: (key: string) => string): Problem[] {
  if (checker.Check(value)) return [];
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const error of checker.Errors(value)) {
    const path = prefix + error.path.replace(/^\//, "").replaceAll("/", ".");
    if (seen.has(path)) continue; // a union reports once per branch; the first says enough
    seen.add(path);
    const unknown = error.message === "Unexpected property";
    out.push({ path, message: unknown ? unknownKey(path) : `${error.message} (got ${JSON.stringify(error.value)})` });
  }
  return out;
}
