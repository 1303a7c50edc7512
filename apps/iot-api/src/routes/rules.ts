import { Elysia, t } from "elysia";
import { needs } from "../access";
import { InvalidInputError, NotFoundError } from "@umos/core";
import { checkRuleAgainstModel, parseRule, type RuleDefinition } from "@umos/rules";
import type { DeviceRepository, Rule, RuleRepository, RuleStatus, Sql, ThingModelRepository } from "@umos/store";
import type { Definition } from "@umos/thing-model";
import { dryRun, DRY_RUN_LIMITS } from "../rule-dry-run";
import { API_PREFIX, DeviceId, ErrorBody, MAX_VERSION } from "../schemas";
import { instant } from "../telemetry-window";

const RuleId = t.String({ pattern: "^[A-Za-z0-9._-]{1,128}$", description: "letters, digits and . _ -" });
const ModelId = t.String({ maxLength: 128, description: "a thing model: the rule applies to every device of it, whichever version" });
const DeviceIds = t.Array(DeviceId, { minItems: 1, maxItems: 1000, uniqueItems: true, description: "the devices the rule applies to" });
const DefinitionField = t.Unknown({
  description:
    "levels [{severity, when, forMs?}] and an optional clear {when, forMs?}; conditions compare properties, match events, or watch silence, presence and command outcomes (docs/alarms.md)",
});
const Scope = { model: t.Optional(ModelId), devices: t.Optional(DeviceIds), definition: DefinitionField };
const RuleBody = {
  name: t.String({ minLength: 1, maxLength: 256 }),
  enabled: t.Optional(t.Boolean({ description: "default true; a disabled rule is kept but not evaluated" })),
  ...Scope,
};

const RuleSchema = t.Object({
  id: t.String(),
  version: t.Integer(),
  name: t.String(),
  enabled: t.Boolean(),
  model: t.Nullable(t.String()),
  devices: t.Array(t.String()),
  definition: t.Unknown(),
  createdAt: t.Date(),
  createdBy: t.Nullable(t.String()),
});
const StatusSchema = t.Object({
  devices: t.Integer({ description: "devices iot-rules holds state for" }),
  evaluatedAt: t.Nullable(t.Date({ description: "when it last evaluated one of them" })),
  lastError: t.Nullable(t.String()),
  activeAlarms: t.Integer(),
});

interface ScopeInput {
  model?: string;
  devices?: string[];
  definition: unknown;
}

/** A rule's definition checked against what it applies to. */
interface Checked {
  definition: RuleDefinition;
  modelId: string | null;
  deviceIds: string[];
}

export interface RuleRouteParts {
  rules: RuleRepository;
  devices: DeviceRepository;
  thingModels: ThingModelRepository;
  sql: Sql;
  /** Publishes the events the changes queued; never throws (alarm-outbox.ts). */
  flush(): void;
  /** Who made the request, as its token names them. */
  callerOf(request: Request): string;
}

/** Alarm rules (docs/alarms.md): versioned like thing models, checked against them, tried on the message log. */
export function ruleRoutes({ rules, devices, thingModels, sql, flush, callerOf }: RuleRouteParts) {
  /**
   * The definition's shape, then every property, event and threshold against the thing model it
   * applies to: the latest version of `model`, or the model of each listed device. Errors name the
   * field by its path in the body (`base`).
   */
  const check = async (scope: ScopeInput, base: string): Promise<Checked> => {
    if ((scope.model === undefined) === (scope.devices === undefined)) {
      throw invalid(`${base}/model`, "give exactly one of model (a thing model id) and devices (device ids)");
    }
    const definition = under(`${base}/definition`, () => parseRule(scope.definition));
    if (scope.model !== undefined) {
      const model = await thingModels.get(scope.model).catch(notFoundAs(`${base}/model`));
      under(`${base}/definition`, () => checkRuleAgainstModel(definition, model.definition as Definition, `${model.id}@${model.version}`));
      return { definition, modelId: model.id, deviceIds: [] };
    }
    const listed = scope.devices!;
    const found = await devices.routes(listed);
    const missing = listed.findIndex((id) => !found.has(id));
    if (missing >= 0) throw invalid(`${base}/devices/${missing}`, `device '${listed[missing]}' does not exist`);
    const refs = new Map([...found.values()].flatMap(({ model }) => (model ? [[`${model.id}@${model.version}`, model] as const] : [])));
    for (const [ref, { id, version }] of refs) {
      const model = await thingModels.get(id, version);
      under(`${base}/definition`, () => checkRuleAgainstModel(definition, model.definition as Definition, ref));
    }
    return { definition, modelId: null, deviceIds: listed };
  };
  const input = async (body: ScopeInput & { name: string; enabled?: boolean }, request: Request) => {
    const { definition, modelId, deviceIds } = await check(body, "");
    return { name: body.name, enabled: body.enabled, modelId, deviceIds, definition, createdBy: callerOf(request) };
  };
  /** The devices a dry run reads: the rule's, or the one named if the rule applies to it. */
  const targets = async ({ modelId, deviceIds }: Checked, device: string | undefined): Promise<string[]> => {
    if (device === undefined) return modelId === null ? deviceIds : devicesOfModel(sql, modelId, DRY_RUN_LIMITS.devices + 1);
    const applies = modelId === null ? deviceIds.includes(device) : (await devices.get(device).catch(notFoundAs("/device"))).model?.id === modelId;
    if (!applies) throw invalid("/device", `the rule does not apply to device '${device}'`);
    return [device];
  };

  return new Elysia({ prefix: "/rules", tags: ["rules"] })
    .get("/", async () => (await rules.listLatest()).map((rule) => ({ ...view(rule), status: statusView(rule.status) })), {
      response: { 200: t.Array(t.Composite([RuleSchema, t.Object({ status: StatusSchema })])) },
      detail: needs("viewer", { summary: "The latest version of every rule, with how its evaluation goes and its active alarms" }),
    })
    .post(
      "/",
      async ({ body, request, set }) => {
        const rule = await rules.create(body.id, await input(body, request));
        set.status = 201;
        set.headers.location = `${API_PREFIX}/rules/${rule.id}`;
        return view(rule);
      },
      {
        body: t.Object({ id: RuleId, ...RuleBody }, { additionalProperties: false }),
        response: { 201: RuleSchema, 400: ErrorBody, 409: ErrorBody },
        detail: needs("admin", {
          summary: "Create a rule (version 1) for a thing model or a list of devices",
          description:
            "The definition is checked against the thing model (its latest version; for devices, each device's): a bad field is a 400 naming its path.",
        }),
      },
    )
    .post(
      "/dry-run",
      async ({ body }) => {
        if ((body.rule === undefined) === (body.ruleId === undefined))
          throw invalid("/rule", "give either rule (a definition with model or devices) or ruleId");
        const [fromMs, toMs] = [instant("from", body.from), instant("to", body.to)];
        const checked = body.rule ? await check(body.rule, "/rule") : stored(await rules.get(body.ruleId!));
        return dryRun(sql, checked.definition, await targets(checked, body.device), fromMs, toMs);
      },
      {
        body: t.Object(
          {
            rule: t.Optional(t.Object(Scope, { additionalProperties: false })),
            ruleId: t.Optional(t.String({ maxLength: 128, description: "a stored rule, its latest version" })),
            device: t.Optional(t.String({ maxLength: 128, description: "only this device (one the rule applies to)" })),
            from: t.String({ maxLength: 64, description: "RFC 3339 or ms since the epoch" }),
            to: t.String({ maxLength: 64, description: `RFC 3339 or ms since the epoch, exclusive; at most ${DRY_RUN_LIMITS.rangeDays} days after from` }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: t.Object({
            transitions: t.Array(
              t.Object({
                deviceId: t.String(),
                at: t.Date({ description: "device time" }),
                action: t.Union([t.Literal("raise"), t.Literal("escalate"), t.Literal("downgrade"), t.Literal("clear")]),
                severity: t.String({ description: "after the change; for a clear, the severity cleared" }),
                details: t.Record(t.String(), t.Unknown()),
              }),
            ),
            messages: t.Integer({ description: "messages read from the log" }),
            devices: t.Integer({ description: "devices evaluated" }),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
        detail: needs("operator", {
          summary: "What a rule would have raised and cleared over a past range of the message log; nothing is raised or written",
          description: `Each device is replayed in device-time order from from, starting without an alarm. At most ${DRY_RUN_LIMITS.devices} devices, ${DRY_RUN_LIMITS.rangeDays} days and ${DRY_RUN_LIMITS.messages} messages.`,
        }),
      },
    )
    .get("/:id", async ({ params, query }) => view(await rules.get(params.id, query.version)), {
      params: t.Object({ id: t.String() }),
      query: t.Object({ version: t.Optional(t.Integer({ minimum: 1, maximum: MAX_VERSION, description: "omitted: the latest" })) }),
      response: { 200: RuleSchema, 404: ErrorBody },
      detail: needs("viewer", { summary: "A rule: its latest version, or the version asked" }),
    })
    .get("/:id/versions", async ({ params }) => (await rules.versions(params.id)).map(view), {
      params: t.Object({ id: t.String() }),
      response: { 200: t.Array(RuleSchema), 404: ErrorBody },
      detail: needs("viewer", { summary: "Every version of a rule, newest first" }),
    })
    .put("/:id", async ({ params, body, request }) => view(await rules.newVersion(params.id, await input(body, request))), {
      params: t.Object({ id: t.String() }),
      body: t.Object(RuleBody, { additionalProperties: false }),
      response: { 200: RuleSchema, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      detail: needs("admin", { summary: "Change a rule: writes its next version, which iot-rules evaluates from then on" }),
    })
    .delete(
      "/:id",
      async ({ params, request, set }) => {
        await rules.remove(params.id, callerOf(request));
        flush();
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String() }),
        response: { 204: t.Void(), 404: ErrorBody },
        detail: needs("admin", { summary: "Remove a rule, every version and its state; its active alarms are cleared, the cleared ones stay as the record" }),
      },
    );
}

/** A stored rule as a dry run takes it: checked when it was written, parsed again for its type. */
function stored(rule: Rule): Checked {
  return { definition: parseRule(rule.definition), modelId: rule.modelId, deviceIds: rule.deviceIds };
}

async function devicesOfModel(sql: Sql, modelId: string, limit: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from devices where model_id = ${modelId} order by id limit ${limit}`;
  return rows.map((r) => r.id);
}

function view({ modelId, deviceIds, ...rule }: Rule) {
  return { ...rule, model: modelId, devices: deviceIds };
}

/** listLatest builds the status as JSON, so its time arrives as text. */
function statusView(status: RuleStatus) {
  return { ...status, evaluatedAt: status.evaluatedAt === null ? null : new Date(status.evaluatedAt) };
}

const invalid = (path: string, message: string) => new InvalidInputError("invalid_rule", `${path}: ${message}`, { path });

/** Runs a check of @umos/rules, whose paths start at the definition, with the definition's own path in front. */
function under<T>(base: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof InvalidInputError) || err.code !== "invalid_rule") throw err;
    const path = (err.details as { path: string }).path;
    throw invalid(`${base}${path === "/" ? "" : path}`, err.message.slice(path.length + 2));
  }
}

/** A thing model or device the body names that does not exist: the body's fault, so 400 naming the field. */
const notFoundAs =
  (path: string) =>
  (err: unknown): never => {
    if (err instanceof NotFoundError) throw invalid(path, err.message);
    throw err;
  };
