import { Elysia, t } from "elysia";
import { needs } from "../access";
import type { ThingModelRepository } from "@umos/store";
import { DefinitionSchema, validateDefinition } from "@umos/thing-model";
import { adapterFor } from "@umos/vendors";
import { API_PREFIX, ErrorBody, MAX_VERSION, Vendor } from "../schemas";

const ModelId = t.String({ pattern: "^[A-Za-z0-9._-]{1,128}$" });
const Validation = t.Union([t.Literal("strict"), t.Literal("flag")], {
  description: "strict: a report that breaks the model is dead-lettered; flag: it is stored and pushed with its problems",
});
const ThingModel = t.Object({ id: t.String(), version: t.Integer(), name: t.String(), validation: t.String(), definition: t.Unknown(), createdAt: t.Date() });
const Body = { name: t.Optional(t.String({ maxLength: 256 })), validation: t.Optional(Validation), definition: DefinitionSchema };

export function thingModelRoutes(models: ThingModelRepository) {
  return new Elysia({ prefix: "/thing-models", tags: ["thing models"] })
    .post(
      "/",
      async ({ body, set }) => {
        const model = await models.create(body.id, { ...body, definition: validateDefinition(body.definition) });
        set.status = 201;
        set.headers.location = `${API_PREFIX}/thing-models/${model.id}`;
        return model;
      },
      {
        body: t.Object({ id: ModelId, ...Body }, { additionalProperties: false }),
        response: { 201: ThingModel, 400: ErrorBody, 409: ErrorBody },
        detail: needs("admin", { summary: "Create a thing model (version 1): properties, events and services in TSL form" }),
      },
    )
    .post(
      "/import",
      async ({ body, set }) => {
        const input = { name: body.name, validation: body.validation, definition: adapterFor(body.vendor).importModel(body.document) };
        const exists = await models.get(body.id).then(
          () => true,
          () => false,
        );
        set.status = exists ? 200 : 201;
        return exists ? models.newVersion(body.id, input) : models.create(body.id, input);
      },
      {
        body: t.Object(
          {
            id: ModelId,
            name: t.Optional(t.String({ maxLength: 256 })),
            validation: t.Optional(Validation),
            vendor: Vendor,
            document: t.Unknown({
              description: "the vendor's own model: Tuya's thing/model/get_response (simple format), DJI's TSL-shaped specs, or a UMOS definition",
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: ThingModel, 201: ThingModel, 400: ErrorBody },
        detail: needs("admin", { summary: "Import a vendor's thing model: version 1 of a new model, or the next version of an existing one" }),
      },
    )
    .get("/", () => models.listLatest(), { response: t.Array(ThingModel), detail: needs("viewer", { summary: "The latest version of every thing model" }) })
    .get("/:id", ({ params }) => models.get(params.id), {
      params: t.Object({ id: t.String() }),
      response: { 200: ThingModel, 404: ErrorBody },
      detail: needs("viewer", { summary: "The latest version of a thing model" }),
    })
    .get("/:id/versions", ({ params }) => models.versions(params.id), {
      params: t.Object({ id: t.String() }),
      response: { 200: t.Array(t.Object({ version: t.Integer(), createdAt: t.Date(), devices: t.Integer() })), 404: ErrorBody },
      detail: needs("viewer", { summary: "Every version of a thing model and how many devices use it" }),
    })
    .get("/:id/versions/:version", ({ params }) => models.get(params.id, params.version), {
      params: t.Object({ id: t.String(), version: t.Integer({ minimum: 1, maximum: MAX_VERSION }) }),
      response: { 200: ThingModel, 404: ErrorBody },
      detail: needs("viewer", { summary: "One version of a thing model" }),
    })
    .put("/:id", ({ params, body }) => models.newVersion(params.id, { ...body, definition: validateDefinition(body.definition) }), {
      params: t.Object({ id: t.String() }),
      body: t.Object(Body, { additionalProperties: false }),
      response: { 200: ThingModel, 400: ErrorBody, 404: ErrorBody },
      detail: needs("admin", { summary: "Change a thing model: writes the next version; devices stay on theirs until moved" }),
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await models.remove(params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String() }),
        response: { 204: t.Void(), 404: ErrorBody, 409: ErrorBody },
        detail: needs("admin", { summary: "Delete every version of an unused thing model" }),
      },
    );
}
