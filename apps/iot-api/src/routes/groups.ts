import { Elysia, t } from "elysia";
import { needs } from "../access";
import { type DeviceRepository, type GroupRepository, MAX_MEMBERS_PER_CALL, MAX_QUERY_LENGTH } from "@umos/store";
import { API_PREFIX, Device, DeviceId, ErrorBody, Limit } from "../schemas";

const GroupId = t.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "letters, digits and . _ : -" });
export const DeviceQuery = t.String({
  minLength: 1,
  maxLength: MAX_QUERY_LENGTH,
  description: 'the device query language (docs/fleet.md), e.g. vendor = dji and online and state.firmware_version < "10.1.8"',
});
const Name = t.String({ maxLength: 256 });
const Description = t.String({ maxLength: 2000 });

const Group = t.Object({
  id: t.String(),
  name: t.String(),
  description: t.String(),
  kind: t.Union([t.Literal("static"), t.Literal("dynamic")], { description: "static: listed members; dynamic: the devices its query matches" }),
  query: t.Nullable(t.String()),
  createdAt: t.Date(),
  updatedAt: t.Date(),
});

/** The query naming a group's members, whichever its kind (static groups are membership, dynamic ones their query). */
const membersOf = (id: string) => `group = "${id}"`;

/** Device groups (docs/fleet.md): static lists and saved queries; jobs and scopes name them. */
export function groupRoutes(groups: GroupRepository, devices: DeviceRepository) {
  return new Elysia({ prefix: "/groups", tags: ["groups"] })
    .post(
      "/",
      async ({ body, set }) => {
        const group = await groups.create(body);
        set.status = 201;
        set.headers.location = `${API_PREFIX}/groups/${encodeURIComponent(group.id)}`;
        return group;
      },
      {
        body: t.Object(
          {
            id: GroupId,
            name: t.Optional(Name),
            description: t.Optional(Description),
            // Given: a dynamic group, the devices this query matches when read.
            query: t.Optional(DeviceQuery),
          },
          { additionalProperties: false },
        ),
        response: { 201: Group, 400: ErrorBody, 409: ErrorBody },
        detail: needs("admin", { summary: "Create a device group: static (members listed) or dynamic (a saved device query)" }),
      },
    )
    .get("/", ({ query }) => groups.list({ limit: query.limit ?? 50, after: query.after }), {
      query: t.Object({ limit: t.Optional(Limit), after: t.Optional(t.String({ maxLength: 128 })) }),
      response: t.Object({ items: t.Array(Group), nextCursor: t.Nullable(t.String()) }),
      detail: needs("viewer", { summary: "List device groups, paged by id (pass nextCursor as after)" }),
    })
    .get(
      "/:id",
      async ({ params }) => {
        const group = await groups.get(params.id);
        return { ...group, memberCount: await devices.count({ query: membersOf(group.id) }) };
      },
      {
        params: t.Object({ id: t.String() }),
        response: { 200: t.Composite([Group, t.Object({ memberCount: t.Integer({ description: "devices in the group now" }) })]), 404: ErrorBody },
        detail: needs("viewer", { summary: "A device group with how many devices it holds now" }),
      },
    )
    .patch("/:id", ({ params, body }) => groups.update(params.id, body), {
      params: t.Object({ id: t.String() }),
      body: t.Object(
        { name: t.Optional(Name), description: t.Optional(Description), query: t.Optional(DeviceQuery) },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: Group, 400: ErrorBody, 404: ErrorBody },
      detail: needs("admin", { summary: "Rename a group, or change a dynamic group's query" }),
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await groups.remove(params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String() }),
        response: { 204: t.Void(), 404: ErrorBody, 409: ErrorBody },
        detail: needs("admin", { summary: "Delete a group (its devices stay); refused while another group's query names it" }),
      },
    )
    .get(
      "/:id/members",
      async ({ params, query }) => {
        await groups.get(params.id);
        return devices.list({ limit: query.limit ?? 50, after: query.after, query: membersOf(params.id) });
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({ limit: t.Optional(Limit), after: t.Optional(t.String({ maxLength: 128 })) }),
        response: { 200: t.Object({ items: t.Array(Device), nextCursor: t.Nullable(t.String()) }), 404: ErrorBody },
        detail: needs("viewer", { summary: "The devices in a group now, paged by id" }),
      },
    )
    .post("/:id/members", async ({ params, body }) => ({ added: await groups.addMembers(params.id, body.deviceIds) }), {
      params: t.Object({ id: t.String() }),
      body: t.Object(
        { deviceIds: t.Array(DeviceId, { minItems: 1, maxItems: MAX_MEMBERS_PER_CALL, description: "devices that exist; all are added or none" }) },
        { additionalProperties: false },
      ),
      response: { 200: t.Object({ added: t.Integer({ description: "devices that were not members yet" }) }), 400: ErrorBody, 404: ErrorBody },
      detail: needs("admin", { summary: "Add devices to a static group, all or none" }),
    })
    .delete(
      "/:id/members/:deviceId",
      async ({ params, set }) => {
        await groups.removeMember(params.id, params.deviceId);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String(), deviceId: t.String() }),
        response: { 204: t.Void(), 404: ErrorBody },
        detail: needs("admin", { summary: "Take a device out of a static group" }),
      },
    );
}
