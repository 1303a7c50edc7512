import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { UmosConfig } from "@umos/config";
import { VENDORS, type Vendor } from "@umos/contracts";
import { createLogger, isPermanent } from "@umos/core";
import type { App } from "@umos/runtime";
import {
  createDatabase,
  createInfluxDatabase,
  createVhost,
  testConfig,
  testToken,
  type TestDatabase,
  type TestInfluxDatabase,
  type TestVhost,
  inProcess,
} from "@umos/testkit";
import { adapterFor, type Decoded, type RawFrame, type VendorAdapter } from "@umos/vendors";
import { createApp } from "../../apps/iot-api/src/app";
import { loadFixtures } from "../../shared/vendors/src/fixtures";
import { templates } from "../e2e/poison/frames";
import { tally } from "./tally";

/**
 * Property-based fuzzing of what reaches UMOS from outside: the REST API's bodies, queries and path
 * parameters, generated from its own OpenAPI document, and the vendor adapters' decoders and topic
 * routing. The rule is the same everywhere: a wrong input is refused in the project's terms (a JSON
 * 4xx, an InvalidInputError), never a 5xx, another exception, a crash or a hang.
 *
 * Every generator draws from one seed, printed; FUZZ_SEED=<n> replays a run or tries another.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 7_341_905);
console.log(`fuzz seed ${SEED} (FUZZ_SEED=<n> to replay or change)`);

const DEVICE_ID = "fuzz-dev";
const MODEL_ID = "fuzz-model";
const GROUP_ID = "fuzz-group";
const WEBHOOK_TOKEN = "webhook-token-for-fuzzing-0123";
/** Generated cases per operation that takes a body or a query, and per operation with path parameters only. */
const CASES_PER_OPERATION = 200;
const CASES_PER_PATH_ONLY_OPERATION = 30;
/** An answer later than this is a hang (the API's own deadline, api.requestTimeoutMs, is 8 s). */
const ANSWER_WITHIN_MS = 10_000;
const DECODE_CASES_PER_VENDOR = 2_400;
/** Frames per vendor whose action no topic of that vendor routes to. */
const UNKNOWN_ACTION_CASES_PER_VENDOR = 60;
const TOPIC_CASES = 1_500;
/** Decoding is a pure transform of at most a few hundred kB: a frame that takes a second is stuck. */
const DECODE_WITHIN_MS = 1_000;

// ---------------------------------------------------------------------------------------------
// Values shared by both families
// ---------------------------------------------------------------------------------------------

/**
 * Number tokens JSON.stringify cannot write (1e400 parses to Infinity, -0 loses its sign), placed
 * in a value as a marked string and written raw by `toJson`.
 */
const raw = (token: string) => `\u0001raw:${token}`;
const toJson = (value: unknown) => (JSON.stringify(value) ?? "null").replace(/"\\u0001raw:([^"]*)"/g, "$1");

const nestedArrays = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
const nestedObjects = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
/** Own `__proto__` and `constructor` keys, as JSON.parse makes them: what a prototype-pollution payload looks like. */
const pollution = () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as Record<string, unknown>;

const HOSTILE_SCALARS: unknown[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfffy",
  "\u202e",
  "1e308",
  "-0",
  "NaN",
  "Infinity",
  "-Infinity",
  "null",
  "true",
  "__proto__",
  "constructor",
  "9".repeat(400),
  "' OR 1=1 --",
  '"; DROP MEASUREMENT x; --',
  "../../etc/passwd",
  1e308,
  -1e308,
  5e-324,
  -1,
  0,
  0.5,
  2 ** 53 + 2,
  -(2 ** 63),
  true,
  false,
  null,
  [],
  {},
  [null],
  raw("1e400"),
  raw("-0"),
  raw("1e-400"),
  raw("123456789012345678901234567890"),
];

/**
 * One character of text: mostly printable ASCII, now and then one that PostgreSQL cannot store (NUL,
 * a lone surrogate) or that reads differently (right-to-left override, non-ASCII), since any string
 * the schema allows may carry them.
 */
const textUnit = fc.oneof(
  { weight: 20, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constant("\u0000") },
  { weight: 1, arbitrary: fc.constantFrom("\ud800", "\udfff") },
  { weight: 1, arbitrary: fc.constantFrom("\u202e", "\u00e9", "\u{1f600}") },
);

/** A value of any JSON type that breaks some assumption: type, size, depth, text no store can keep. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_SCALARS) },
  { weight: 2, arbitrary: fc.string({ unit: textUnit, minLength: 1, maxLength: 16 }).map((s) => `${s}\u0000${s}`) },
  // Every code point, lone surrogates and NUL included.
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(10_000, 200_000).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 50_000).map((n) => Array.from({ length: n }, (_, i) => i)) },
  // Past the decoders' depth bound (32); deeper ones cost the API seconds apiece (see edgeCases).
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(33, 500, 2_000), fc.boolean()).map(([depth, arrays]) => (arrays ? nestedArrays(depth) : nestedObjects(depth))),
  },
  { weight: 1, arbitrary: fc.constant(null).map(() => pollution()) },
  { weight: 1, arbitrary: fc.constantFrom(200, 10_000).map((n) => ({ ["k".repeat(n)]: 1 })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i]))) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

/** One change to a valid-ish value: a field retyped, dropped, an extra one added, or pollution keys. */
interface Mutation {
  op: "retype" | "drop" | "extra" | "pollute";
  at: number;
  key: string;
  value: unknown;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom("retype", "drop", "extra", "pollute"),
  at: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom("__proto__", "constructor", "prototype", "k".repeat(300))),
  value: hostileValue,
});

/** Defines the key as an own property: plain assignment of `__proto__` would set the prototype instead. */
function setOwn(target: object, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every object and array inside a value, the value itself first. */
function containers(value: unknown, out: object[] = []): object[] {
  if (typeof value !== "object" || value === null) return out;
  out.push(value);
  for (const item of Object.values(value)) containers(item, out);
  return out;
}

function mutate(base: unknown, { op, at, key, value }: Mutation): unknown {
  const root = structuredClone(base);
  const targets = containers(root);
  // A scalar has nothing to change inside: the hostile value takes its place.
  if (targets.length === 0) return value;
  const target = targets[at % targets.length]!;
  const keys = Object.keys(target);
  const existing = keys.length > 0 ? keys[Math.floor(at / targets.length) % keys.length]! : key;
  switch (op) {
    case "retype":
      setOwn(target, existing, value);
      break;
    case "drop":
      if (Array.isArray(target)) target.splice(Number(existing), 1);
      else delete (target as Record<string, unknown>)[existing];
      break;
    // An array takes the extra value as one more item: JSON drops its named properties (and a named
    // `constructor` would break the array's own methods).
    case "extra":
      if (Array.isArray(target)) target.push(value);
      else setOwn(target, key, value);
      break;
    case "pollute":
      if (Array.isArray(target)) target.push(pollution());
      else for (const [k, v] of Object.entries(pollution())) setOwn(target, k, v);
      break;
    default:
      return op satisfies never;
  }
  return root;
}

/** JSON text that is not JSON, or is JSON no parser should like. */
const MALFORMED_JSON = [
  "",
  "{",
  "}",
  "[",
  '{"a":}',
  "[1,]",
  "{'a':1}",
  "\ufeff{}",
  "{}{}",
  "nul",
  '{"a":1e}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":"\\ud800"}',
  '{"\\u0000":1}',
  '{"a":"\\u0000"}',
  '{"a":1,"a":2}',
];

/** Text for a report line: quoted, so NULs and lone surrogates show as escapes, and cut to a length. */
function preview(text: string | undefined, length = 160): string {
  if (text === undefined) return "none";
  return JSON.stringify(text.length > length ? `${text.slice(0, length)}...(${text.length} chars)` : text);
}

// ---------------------------------------------------------------------------------------------
// 1. REST bodies and queries, generated from the OpenAPI document
// ---------------------------------------------------------------------------------------------

/** The part of JSON Schema (as TypeBox writes it into the OpenAPI document) the generator reads. */
interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  nullable?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  minProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
  minimum?: number;
  maximum?: number;
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema: JsonSchema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface HttpCase {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Values that fit a JSON schema, or nearly: enough to get past validation into the handler most of the time. */
function arbitraryFromJsonSchema(schema: JsonSchema, document: OpenApiDocument): fc.Arbitrary<unknown> {
  const of = (s: JsonSchema) => arbitraryFromJsonSchema(s, document);
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace(/^#\/components\/schemas\//, "");
    const target = document.components?.schemas?.[name];
    if (!target) throw new Error(`the OpenAPI document has no ${schema.$ref}`);
    return of(target);
  }
  if (schema.nullable) return fc.oneof(of({ ...schema, nullable: false }), fc.constant(null));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map(of));
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => of({ ...schema, type })));
  switch (schema.type) {
    case "object":
      return objectArbitrary(schema, of);
    case "array":
      return fc.array(of(schema.items ?? {}), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case "string":
      return stringArbitrary(schema);
    case "integer":
      return integerArbitrary(schema);
    case "number":
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      // fc.anything() also makes values JSON cannot carry (undefined, Maps); these bodies travel as JSON.
      return fc.jsonValue({ maxDepth: 3 });
  }
}

function objectArbitrary(schema: JsonSchema, of: (s: JsonSchema) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const known = fc.record(Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, s]) => [key, of(s)])), {
    requiredKeys: schema.required ?? [],
  });
  // Extra keys only where the schema invites them (a record, or additionalProperties); the hostile half adds the rest.
  const patterns = Object.values(schema.patternProperties ?? {});
  const open = typeof schema.additionalProperties === "object" ? schema.additionalProperties : schema.additionalProperties === true ? {} : undefined;
  const extraValue = patterns[0] ?? open;
  if (extraValue === undefined) return known;
  const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 24 }), of(extraValue), { minKeys: schema.minProperties ?? 0, maxKeys: 4 });
  return fc.tuple(known, extra).map(([k, e]) => ({ ...e, ...k }));
}

/** An integer schema without bounds allows any safe integer, past what a PostgreSQL integer column holds. */
function integerArbitrary(schema: JsonSchema): fc.Arbitrary<number> {
  return fc.integer({ min: schema.minimum ?? Number.MIN_SAFE_INTEGER, max: schema.maximum ?? Number.MAX_SAFE_INTEGER });
}

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 32;
  switch (schema.format) {
    case "uuid":
      return fc.uuid();
    case "integer":
      return integerArbitrary(schema).map(String);
    case "date-time":
      return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (schema.pattern !== undefined) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= max);
  return fc.oneof(
    { weight: 9, arbitrary: fc.string({ unit: textUnit, minLength: min, maxLength: Math.min(max, 64) }) },
    { weight: 1, arbitrary: fc.constant("x".repeat(max)) },
  );
}

/** A body for an operation: valid-ish for its schema, a valid-ish one broken in one place, a hostile value, or not JSON at all. */
function bodyArbitrary(schema: JsonSchema, document: OpenApiDocument): fc.Arbitrary<string> {
  const valid = arbitraryFromJsonSchema(schema, document);
  return fc.oneof(
    { weight: 4, arbitrary: valid.map(toJson) },
    {
      weight: 4,
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 2 })).map(([base, changes]) => toJson(changes.reduce(mutate, base))),
    },
    { weight: 1, arbitrary: hostileValue.map(toJson) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom(...MALFORMED_JSON),
        fc.tuple(valid.map(toJson), fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(text.length, 1))),
        fc.string({ unit: "binary", maxLength: 100 }),
      ),
    },
  );
}

/** One URL component; a lone surrogate cannot be percent-encoded, so it goes as U+FFFD (raw byte forms are in GARBAGE_COMPONENTS). */
const encodeComponent = (text: string) => encodeURIComponent(text.toWellFormed());

/** Already-encoded path segments and query values that decoders read differently or not at all. */
const GARBAGE_COMPONENTS = [
  "",
  "%",
  "%zz",
  "%00",
  "%2f",
  "%5c",
  "%2e%2e",
  "..",
  "%ED%A0%80",
  "%C0%AF",
  "%FF%FE",
  "%E2%80%AE",
  "a;b",
  "+",
  "__proto__",
  "constructor",
  "-1",
  "0",
  "-0",
  "1.5",
  "0x10",
  "1e308",
  "NaN",
  "Infinity",
  "99999999999999999999",
  "true",
  "null",
  "[]",
  "{}",
  // Long, but under Bun's 16 KiB request-line limit: past it Bun itself answers 431 before any route.
  "x".repeat(4_000),
];

const garbageComponent = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...GARBAGE_COMPONENTS) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map(encodeComponent) },
);

/** The existing resource each path parameter names, so a valid-ish request reaches its handler. */
function existingParameter(template: string, name: string): string {
  if (name === "version") return "1";
  // No device request is logged, so a reply gets its 404 from the handler, past validation.
  if (name === "tid") return "fuzz-tid";
  if (template.startsWith("/api/v1/groups") && name === "id") return GROUP_ID;
  return template.startsWith("/api/v1/thing-models") ? MODEL_ID : DEVICE_ID;
}

/**
 * The path with its parameters filled: mostly the existing resource, now and then garbage. An
 * operation fuzzed for its path alone (a DELETE among them) gets garbage only, so it never removes
 * the device or model the other cases need.
 */
function pathArbitrary(template: string, names: string[], existing: boolean): fc.Arbitrary<string> {
  if (names.length === 0) return fc.constant(template);
  const values = names.map((name) =>
    existing
      ? fc.oneof({ weight: 4, arbitrary: fc.constant(existingParameter(template, name)) }, { weight: 1, arbitrary: garbageComponent })
      : garbageComponent,
  );
  return fc.tuple(...values).map((filled) => names.reduce((path, name, i) => path.replace(`{${name}}`, filled[i]!), template));
}

const POLLUTING_QUERY = ["__proto__[polluted]=1", "constructor[prototype][polluted]=1", "__proto__=1", "a[b][c]=1", "=", "&&", "a=1=2"];

/** A query string from the parameters' schemas, with garbage values, duplicates and parameters nobody declared. */
function queryArbitrary(parameters: Parameter[], document: OpenApiDocument, fixed: fc.Arbitrary<string[]>): fc.Arbitrary<string> {
  const value = (p: Parameter) =>
    fc.oneof(
      { weight: 3, arbitrary: arbitraryFromJsonSchema(p.schema, document).map((v) => encodeComponent(typeof v === "string" ? v : toJson(v))) },
      { weight: 1, arbitrary: garbageComponent },
    );
  const declared = parameters.map((p) => {
    const pair = value(p).map((v) => [`${p.name}=${v}`]);
    return fc.oneof({ weight: p.required ? 9 : 1, arbitrary: pair }, { weight: 1, arbitrary: fc.constant<string[]>([]) });
  });
  const names = parameters.map((p) => p.name);
  const extra = fc.array(
    fc.oneof(
      fc.constantFrom(...POLLUTING_QUERY),
      // A declared parameter once more: a repeated parameter reaches the handler as an array.
      names.length > 0 ? fc.tuple(fc.constantFrom(...names), garbageComponent).map(([n, v]) => `${n}=${v}`) : fc.constant("x=1"),
      fc.tuple(garbageComponent, garbageComponent).map(([n, v]) => `${n}=${v}`),
    ),
    { maxLength: 2 },
  );
  const extras = fc.oneof({ weight: 4, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: extra });
  return fc.tuple(fixed, extras, ...declared).map((parts) => parts.flat().join("&"));
}

const VERNEMQ_HOOKS = [
  "auth_on_register",
  "auth_on_register_m5",
  "auth_on_publish",
  "auth_on_publish_m5",
  "auth_on_subscribe",
  "auth_on_subscribe_m5",
  "on_deliver",
  "on_client_offline",
];

/** Printable ASCII only: fetch refuses to send control characters in a header. */
const headerText = fc.stringMatching(/^[\x21-\x7e]{0,200}$/);

function headersArbitrary(parameters: Parameter[], hasBody: boolean): fc.Arbitrary<Record<string, string>> {
  // The document offers form encodings too; JSON is what clients send, the others now and then.
  const contentType = hasBody
    ? fc
        .oneof(
          { weight: 17, arbitrary: fc.constant("application/json") },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              "text/plain",
              "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=fuzz",
              "application/json; charset=utf-16",
            ),
          },
        )
        .map((type) => ({ "content-type": type }))
    : fc.constant({});
  const declared = parameters.map((p) => {
    const value =
      p.name === "vernemq-hook" ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...VERNEMQ_HOOKS) }, { weight: 1, arbitrary: headerText }) : headerText;
    return fc.option(
      value.map((v) => ({ [p.name]: v })),
      { nil: {} },
    );
  });
  return fc.tuple(contentType, ...declared).map((parts) => Object.assign({}, ...parts) as Record<string, string>);
}

/** The webhook takes the broker's token in the query; without it every case would stop at the 401. */
function fixedQuery(template: string): fc.Arbitrary<string[]> {
  if (template !== "/api/v1/webhooks/vernemq") return fc.constant([]);
  return fc.oneof(
    { weight: 9, arbitrary: fc.constant<string[]>([`token=${WEBHOOK_TOKEN}`]) },
    { weight: 1, arbitrary: garbageComponent.map((t) => [`token=${t}`]) },
  );
}

function operationCases(document: OpenApiDocument, template: string, method: string, operation: Operation): HttpCase[] {
  const parameters = operation.parameters ?? [];
  const where = (place: Parameter["in"]) => parameters.filter((p) => p.in === place);
  const bodySchema = operation.requestBody?.content["application/json"]?.schema;
  const fuzzed = bodySchema !== undefined || where("query").length > 0;
  const pathNames = where("path").map((p) => p.name);
  if (!fuzzed && pathNames.length === 0) return [];
  const cases = fc.record({
    path: pathArbitrary(template, pathNames, fuzzed),
    query: queryArbitrary(where("query"), document, fixedQuery(template)),
    headers: headersArbitrary(where("header"), bodySchema !== undefined),
    body: bodySchema ? bodyArbitrary(bodySchema, document) : fc.constant(undefined),
  });
  const count = fuzzed ? CASES_PER_OPERATION : CASES_PER_PATH_ONLY_OPERATION;
  return fc.sample(cases, { seed: SEED, numRuns: count }).map((c) => ({ method: method.toUpperCase(), ...c }));
}

/**
 * Cases the generators reach too rarely, tried once each. Sizes that cost seconds apiece: a body
 * past api.bodyLimitBytes, a whole body nested 20,000 deep (40 kB), a field that takes any JSON
 * nested 20,000 deep. And a broker login whose username and client id agree (the only kind the
 * webhook looks up) but hold a NUL.
 */
function edgeCases(config: UmosConfig): HttpCase[] {
  const json = { "content-type": "application/json" };
  const post = (body: string): HttpCase => ({ method: "POST", path: "/api/v1/devices/", query: "", headers: json, body });
  const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
  return [
    post(JSON.stringify({ id: "fuzz-big", vendor: "generic", name: "x".repeat(config.api.bodyLimitBytes) })),
    post(deep(20_000)),
    post(`{"id":"fuzz-deep","vendor":"generic","metadata":{"a":${deep(20_000)}}}`),
    // Bulk provisioning reads CSV itself: an unclosed quote, a NUL, a row of 10,000 cells.
    ...['id,vendor\n"fuzz-unclosed,generic\n', "id,vendor\nfuzz-\u0000,generic\n", `id,vendor\n${"x,".repeat(10_000)}generic\n`].map(
      (body): HttpCase => ({ method: "POST", path: "/api/v1/devices/import", query: "dryRun=true", headers: { "content-type": "text/csv" }, body }),
    ),
    {
      method: "POST",
      path: "/api/v1/webhooks/vernemq",
      query: `token=${WEBHOOK_TOKEN}`,
      headers: { ...json, "vernemq-hook": "auth_on_register" },
      body: JSON.stringify({ client_id: `${DEVICE_ID}\u0000`, username: `${DEVICE_ID}\u0000`, password: "x", mountpoint: "" }),
    },
  ];
}

/** The project's error format (docs/design.md §10): `{ "error": { "code", "message" } }`. */
function isErrorBody(text: string): boolean {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === "string" && error.code !== "" && typeof error.message === "string" && error.message !== "";
  } catch {
    return false;
  }
}

describe("fuzz: REST bodies and queries", () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let influx: TestInfluxDatabase;
  let config: UmosConfig;
  let api: App;
  let base: string;
  let admin: string;
  let document: OpenApiDocument;
  /** The API's error log, so a 5xx is reported with what the server saw. */
  const serverErrors: string[] = [];

  const firmwareDir = mkdtempSync(join(tmpdir(), "umos-fuzz-firmware-"));

  beforeAll(async () => {
    [vhost, database, influx] = await Promise.all([createVhost(), createDatabase(), createInfluxDatabase()]);
    config = testConfig(
      { busUrl: vhost.url, postgresUrl: database.url },
      // Telemetry configured, so its route is fuzzed rather than answering 501 to everything.
      { UMOS_AUTH__WEBHOOK_TOKEN: WEBHOOK_TOKEN, UMOS_INFLUX__URL: influx.url, UMOS_INFLUX__BUCKET: influx.database, UMOS_FIRMWARE__DIR: firmwareDir },
    );
    const log = createLogger("iot-api", { level: "error", format: "json", write: (line) => serverErrors.push(line) });
    api = inProcess(createApp, config, "iot-api", { log });
    await api.start();
    base = `http://127.0.0.1:${api.port}`;
    admin = await testToken("admin");
    const model = await call("POST", "/api/v1/thing-models", {
      id: MODEL_ID,
      definition: {
        properties: [{ identifier: "speed", accessMode: "rw", dataType: { type: "int", specs: { min: 0, max: 5 } } }],
        events: [],
        services: [{ identifier: "spin", callType: "async", inputData: [{ identifier: "rpm", dataType: { type: "int" } }], outputData: [] }],
      },
    });
    expect(model.status).toBe(201);
    expect((await call("POST", "/api/v1/devices", { id: DEVICE_ID, vendor: "generic", model: { id: MODEL_ID } })).status).toBe(201);
    expect((await call("POST", "/api/v1/groups", { id: GROUP_ID })).status).toBe(201);
    document = (await (await fetch(`${base}/openapi/json`)).json()) as OpenApiDocument;
  }, 30_000);

  afterAll(async () => {
    await api?.stop();
    await Promise.all([vhost?.dispose(), database?.dispose(), influx?.dispose()]);
    rmSync(firmwareDir, { recursive: true, force: true });
  });

  function call(method: string, path: string, body: unknown) {
    return fetch(base + path, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  /** After a timeout or a dropped connection, waits for the API to answer again, so one stall counts once. */
  async function untilAnswering() {
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
      if (health?.ok) return;
      await Bun.sleep(200);
    }
  }

  /** What the server logged while answering, for a 5xx's report. */
  function loggedSince(from: number): string {
    const errors = serverErrors.slice(from).map((line) => String((JSON.parse(line) as { err?: unknown }).err ?? line));
    return errors.length > 0 ? ` (server: ${errors.join("; ").slice(0, 120)})` : "";
  }

  /** One case, judged by the rule: 2xx, or a 4xx in the error format (a refusal); anything else is unexpected. */
  async function send(c: HttpCase): Promise<{ ok: boolean; refusal?: boolean; detail: string }> {
    const from = serverErrors.length;
    const input = `body ${preview(c.body)}${c.headers["content-type"] && c.headers["content-type"] !== "application/json" ? ` as ${c.headers["content-type"]}` : ""}`;
    try {
      const res = await fetch(`${base}${c.path}${c.query ? `?${c.query}` : ""}`, {
        method: c.method,
        headers: { authorization: `Bearer ${admin}`, ...c.headers },
        body: c.body,
        signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
      });
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) return { ok: true, detail: input };
      if (res.status >= 400 && res.status < 500 && isErrorBody(text)) return { ok: true, refusal: true, detail: input };
      return { ok: false, detail: `${res.status} ${preview(text, 100)}${loggedSince(from)} <- ${input}` };
    } catch (err) {
      await untilAnswering();
      return { ok: false, detail: `${(err as Error).name}: ${(err as Error).message}${loggedSince(from)} <- ${input}` };
    }
  }

  test("every operation answers 2xx or a JSON 4xx within 10 s to generated, hostile and malformed bodies, queries and path parameters, and stays ready", async () => {
    const rest = tally("fuzz: REST bodies and queries");
    const cases = Object.entries(document.paths).flatMap(([template, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) => operationCases(document, template, method, operation)),
    );
    const edges = edgeCases(config);
    const started = performance.now();
    for (const c of [...cases, ...edges]) {
      const verdict = await send(c);
      rest.check(`${c.method} ${preview(`${c.path}${c.query ? `?${c.query}` : ""}`, 120)}`, verdict.ok, { refusal: verdict.refusal, detail: verdict.detail });
    }
    const ready = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }).catch(() => undefined);
    rest.check("GET /ready after every case", ready?.status === 200, { detail: `answered ${ready?.status ?? "nothing"}` });
    console.log(`fuzz: ${cases.length} generated and ${edges.length} edge REST cases in ${Math.round((performance.now() - started) / 1000)} s`);
    expect(rest.report()).toEqual([]);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// 2. Vendor decoders and topic routing
// ---------------------------------------------------------------------------------------------

/** Every valid frame known for each uplink action of a vendor: the generic protocol's documented shapes and the captured fixtures. */
function validFrames(vendor: Vendor): Map<string, unknown[]> {
  const adapter = adapterFor(vendor);
  // A fixture without a topic (Tuya's model document) is no frame.
  const fixtures =
    vendor === "generic" ? [] : [...loadFixtures(vendor).values()].filter((f) => f.topic !== undefined).map((f) => ({ topic: f.topic, body: f.payload }));
  const byAction = new Map<string, unknown[]>();
  for (const { topic, body } of [...templates(vendor, DEVICE_ID), ...fixtures]) {
    const action = adapter.routeTopic(topic)?.action;
    if (action !== undefined) byAction.set(action, [...(byAction.get(action) ?? []), body]);
  }
  return byAction;
}

const bytesOf = (text: string) => Buffer.from(text);

/** Payloads for one action: noise, random JSON, and the action's valid frames broken in up to three places, cut short or bit-flipped. */
function payloadArbitrary(frames: unknown[]): fc.Arbitrary<Uint8Array> {
  const valid = fc.constantFrom(...frames);
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => bytesOf(toJson(v))) },
    { weight: 1, arbitrary: hostileValue.map((v) => bytesOf(toJson(v))) },
    {
      weight: 6,
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([base, changes]) => bytesOf(toJson(changes.reduce(mutate, base)))),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([base, at, byte, cut]) => {
        const bytes = bytesOf(toJson(base));
        const i = at % bytes.length;
        if (cut) return bytes.subarray(0, i);
        const flipped = Buffer.from(bytes);
        flipped[i] = byte;
        return flipped;
      }),
    },
  );
}

/** What the uplink needs of a Decoded: messages it can publish as JSON, each naming its device and kind. */
function wellFormed(decoded: Decoded): boolean {
  return (
    Array.isArray(decoded.messages) &&
    Array.isArray(decoded.replies) &&
    decoded.messages.every((m) => typeof m.envelope.deviceId === "string" && typeof m.envelope.kind === "string" && Number.isFinite(m.envelope.ts)) &&
    typeof JSON.stringify(decoded) === "string"
  );
}

/** One decode, judged: a well-formed Decoded, or a refusal with InvalidInputError's code and message; never another error or a stall. */
function judgeDecode(vendor: Vendor, frame: RawFrame): { ok: boolean; refusal?: boolean; detail: string } {
  const input = `payload ${preview(Buffer.from(frame.payload).toString("utf8"))}`;
  const started = performance.now();
  let verdict: { ok: boolean; refusal?: boolean; detail: string };
  try {
    const decoded = adapterFor(vendor).decode(frame);
    verdict = wellFormed(decoded) ? { ok: true, detail: input } : { ok: false, detail: `${input} -> a malformed Decoded` };
  } catch (err) {
    const refused = isPermanent(err) && err.code !== "" && err.message !== "";
    verdict = refused ? { ok: true, refusal: true, detail: input } : { ok: false, detail: `${input} -> ${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
  const took = performance.now() - started;
  return took > DECODE_WITHIN_MS ? { ok: false, detail: `${verdict.detail} -> took ${Math.round(took)} ms` } : verdict;
}

/** The actions a vendor's device->cloud topics route to. */
const uplinkActions = (adapter: VendorAdapter) => adapter.uplinkFilters.map((filter) => adapter.routeTopic(filter.replace("+", DEVICE_ID))!.action);

function frameOf(action: string, payload: Uint8Array): RawFrame {
  return { deviceId: DEVICE_ID, action, topic: "", payload, messageId: "0190c0de-0000-7000-8000-00000000f022", receivedAt: 1_700_000_000_000 };
}

describe("fuzz: vendor decoders", () => {
  test("decode of every uplink action returns a Decoded or refuses with InvalidInputError, for noise, random JSON and broken valid frames", () => {
    const decoders = tally("fuzz: vendor decoders");
    for (const vendor of VENDORS) {
      const frames = validFrames(vendor);
      const actions = uplinkActions(adapterFor(vendor));
      for (const action of actions) {
        const valid = frames.get(action) ?? [];
        expect(valid.length).toBeGreaterThan(0);
        const payloads = [
          ...valid.map((v) => bytesOf(toJson(v))),
          ...fc.sample(payloadArbitrary(valid), { seed: SEED, numRuns: Math.ceil(DECODE_CASES_PER_VENDOR / actions.length) }),
        ];
        for (const payload of payloads) {
          const verdict = judgeDecode(vendor, frameOf(action, payload));
          decoders.check(`${vendor} ${action}`, verdict.ok, { refusal: verdict.refusal, detail: verdict.detail });
        }
      }
      // An action no topic routes to (the gateway reads actions from topics), with a valid payload: still refused, not a TypeError.
      const unknownAction = fc.oneof(
        fc.constantFrom("constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", "property", "status.x"),
        fc.string({ maxLength: 24 }),
      );
      const payload = bytesOf(toJson(frames.get(actions[0]!)![0]));
      for (const action of fc.sample(
        unknownAction.filter((a) => !actions.includes(a)),
        { seed: SEED, numRuns: UNKNOWN_ACTION_CASES_PER_VENDOR },
      )) {
        const verdict = judgeDecode(vendor, frameOf(action, payload));
        decoders.check(`${vendor} action ${preview(action)}`, verdict.ok, { refusal: verdict.refusal, detail: verdict.detail });
      }
    }
    expect(decoders.report()).toEqual([]);
  }, 60_000);

  test("routeTopic and deviceOfTopic take any topic without throwing, and route only to one of the vendor's uplink actions, for the topic's owner", () => {
    const topics = tally("fuzz: vendor topics");
    const adapters = VENDORS.map(adapterFor);
    // Topics built from the real ones (prefix, device level, suffix), plus plain noise.
    const prefixes = [...new Set(adapters.flatMap((a) => a.uplinkFilters.map((f) => f.split("+")[0]!))), "", "$share/g/", "generic", "thing/product"];
    const suffixes = [
      ...new Set(adapters.flatMap((a) => a.uplinkFilters.map((f) => f.split("+")[1]!))),
      "",
      "/",
      "//",
      "/#",
      "/+",
      "/constructor",
      "/__proto__",
      "/toString",
      "/hasOwnProperty",
      "/property",
      "/property/report/extra",
      "/thing/property/report/",
    ];
    const device = fc.oneof(
      fc.constantFrom("", "+", "#", DEVICE_ID, "a/b", "\u0000", "\ud800", "x".repeat(70_000)),
      fc.string({ unit: "binary", maxLength: 20 }),
    );
    const topic = fc.oneof(
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...prefixes), device, fc.constantFrom(...suffixes)).map((parts) => parts.join("")) },
    );
    for (const adapter of adapters) {
      const actions = new Set(uplinkActions(adapter));
      for (const t of fc.sample(topic, { seed: SEED, numRuns: TOPIC_CASES })) {
        const name = `${adapter.vendor} ${preview(t, 80)}`;
        try {
          const route = adapter.routeTopic(t);
          const owner = adapter.deviceOfTopic(t);
          const routed =
            route === undefined ||
            (route.vendor === adapter.vendor &&
              typeof route.action === "string" &&
              actions.has(route.action) &&
              route.deviceId !== "" &&
              !route.deviceId.includes("/") &&
              // deviceOfTopic names no owner for a wildcard level, which a published topic cannot hold anyway.
              (owner === undefined || route.deviceId === owner));
          const owned = owner === undefined || (typeof owner === "string" && owner !== "" && !owner.includes("/"));
          const shown = route === undefined ? "undefined" : `${route.vendor} ${preview(route.deviceId, 40)} ${preview(String(route.action), 40)}`;
          topics.check(name, routed && owned, { refusal: route === undefined, detail: `routeTopic -> ${shown}, deviceOfTopic -> ${preview(owner, 40)}` });
        } catch (err) {
          topics.check(name, false, { detail: `threw ${(err as Error)?.name}: ${(err as Error)?.message}` });
        }
      }
    }
    expect(topics.report()).toEqual([]);
  }, 60_000);
});
