import { Elysia, t } from "elysia";
import { needs } from "../access";
import { InvalidInputError } from "@umos/core";
import { SEVERITIES, type Severity } from "@umos/rules";
import type { AlarmFilter, AlarmRepository, DeviceRepository } from "@umos/store";
import { ErrorBody } from "../schemas";
import { instant } from "../telemetry-window";

export const AlarmSchema = t.Object({
  id: t.String(),
  deviceId: t.Nullable(t.String({ description: "null: a platform alarm (dead letters piling up)" })),
  vendor: t.String(),
  source: t.String({ description: "rule:<id> or a built-in type (dji.hms:<code>, platform.dead_letters): one active alarm per device and source" }),
  type: t.String(),
  ruleId: t.Nullable(t.String()),
  ruleVersion: t.Nullable(t.Integer()),
  severity: t.String({ description: "critical, major, minor or warning" }),
  status: t.String({ description: "active or cleared" }),
  acknowledged: t.Boolean(),
  acknowledgedBy: t.Nullable(t.String()),
  acknowledgedAt: t.Nullable(t.Date()),
  assignee: t.Nullable(t.String()),
  startedAt: t.Date(),
  lastSeenAt: t.Date(),
  endedAt: t.Nullable(t.Date()),
  clearedBy: t.Nullable(t.String({ description: "who cleared it: a person, the rule's clear condition, or the rule's removal" })),
  occurrences: t.Integer(),
  details: t.Record(t.String(), t.Unknown(), { description: "the values that made the rule decide" }),
  updatedAt: t.Date(),
});

const Comment = t.Object({ seq: t.Integer(), author: t.String(), text: t.String(), at: t.Date() });
const Page = t.Object({ items: t.Array(AlarmSchema), nextCursor: t.Nullable(t.String()) });
/** A malformed id is refused by its schema: it must not reach PostgreSQL's uuid column as a 500. */
const Id = t.Object({ id: t.String({ pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" }) });

const Filters = {
  severity: t.Optional(
    t.Array(t.String({ maxLength: 64 }), { maxItems: 4, description: "critical, major, minor, warning: repeat the parameter or give a comma list" }),
  ),
  status: t.Optional(t.Union([t.Literal("active"), t.Literal("cleared")])),
  acknowledged: t.Optional(t.Boolean()),
  source: t.Optional(t.String({ maxLength: 256, description: "e.g. rule:battery-low, dji.hms:0x16100083" })),
  from: t.Optional(t.String({ maxLength: 64, description: "started at or after: RFC 3339 or ms since the epoch" })),
  to: t.Optional(t.String({ maxLength: 64, description: "started before: RFC 3339 or ms since the epoch" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, description: "default 100" })),
  cursor: t.Optional(t.String({ maxLength: 512, description: "nextCursor of the previous page" })),
};
type FilterQuery = { severity?: string[]; status?: "active" | "cleared"; acknowledged?: boolean; source?: string; from?: string; to?: string };

export interface AlarmRouteParts {
  alarms: AlarmRepository;
  devices: DeviceRepository;
  /** Publishes the events the changes queued; never throws (alarm-outbox.ts). */
  flush(): void;
  /** Who made the request, as its token names them. */
  callerOf(request: Request): string;
}

/** Alarms (docs/alarms.md): listed by viewers, handled by operators; each change is announced on the bus. */
export function alarmRoutes({ alarms, devices, flush, callerOf }: AlarmRouteParts) {
  const list = (query: FilterQuery & { limit?: number; cursor?: string }, deviceId?: string) =>
    alarms.page({ ...filterOf(query), ...(deviceId === undefined ? {} : { deviceId }), limit: query.limit ?? 100, cursor: query.cursor });
  /** A change is committed with its event; the event goes out after. */
  const changed = async <T>(work: Promise<T>): Promise<T> => {
    const result = await work;
    flush();
    return result;
  };
  return new Elysia({ tags: ["alarms"] })
    .get("/alarms", ({ query }) => list(query, query.device), {
      query: t.Object({ device: t.Optional(t.String({ maxLength: 128, description: "a device id" })), ...Filters }),
      response: { 200: Page, 400: ErrorBody },
      detail: needs("viewer", { summary: "Alarms, by start time newest first, filtered and paged (pass nextCursor as cursor)" }),
    })
    .get(
      "/alarms/summary",
      async () => {
        const [active, unacknowledged] = await Promise.all([alarms.countActive(), alarms.countUnacknowledged()]);
        return { active, unacknowledged };
      },
      {
        response: {
          200: t.Object({
            active: t.Record(t.String(), t.Integer(), { description: "active alarms per severity" }),
            unacknowledged: t.Integer({ description: "active alarms nobody acknowledged yet" }),
          }),
        },
        detail: needs("viewer", { summary: "Active alarms per severity and how many are unacknowledged, for the console's badge" }),
      },
    )
    .get(
      "/alarms/:id",
      async ({ params }) => {
        const [alarm, comments] = await Promise.all([alarms.get(params.id), alarms.comments(params.id)]);
        return { ...alarm, comments };
      },
      {
        params: Id,
        response: { 200: t.Composite([AlarmSchema, t.Object({ comments: t.Array(Comment) })]), 400: ErrorBody, 404: ErrorBody },
        detail: needs("viewer", { summary: "An alarm with its comments, oldest first" }),
      },
    )
    .post("/alarms/:id/acknowledge", ({ params, request }) => changed(alarms.acknowledge(params.id, callerOf(request))), {
      params: Id,
      response: { 200: AlarmSchema, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      detail: needs("operator", { summary: "Acknowledge an alarm: someone is on it; 409 if it already is acknowledged" }),
    })
    .post("/alarms/:id/clear", ({ params, request }) => changed(alarms.clear(params.id, callerOf(request))), {
      params: Id,
      response: { 200: AlarmSchema, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      detail: needs("operator", {
        summary: "Clear an active alarm by hand; 409 if it is cleared already",
        description: "A rule whose condition still holds raises a new alarm at its next evaluation.",
      }),
    })
    .put("/alarms/:id/assignee", ({ params, body, request }) => changed(alarms.assign(params.id, body.assignee, callerOf(request))), {
      params: Id,
      body: t.Object(
        { assignee: t.Nullable(t.String({ minLength: 1, maxLength: 128, description: "who handles it; null: nobody" })) },
        { additionalProperties: false },
      ),
      response: { 200: AlarmSchema, 400: ErrorBody, 404: ErrorBody },
      detail: needs("operator", { summary: "Assign an alarm to someone, or to nobody with null" }),
    })
    .post(
      "/alarms/:id/comments",
      async ({ params, body, request, set }) => {
        const comment = await changed(alarms.comment(params.id, callerOf(request), body.text));
        set.status = 201;
        return comment;
      },
      {
        params: Id,
        body: t.Object({ text: t.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false }),
        response: { 201: Comment, 400: ErrorBody, 404: ErrorBody },
        detail: needs("operator", { summary: "Comment on an alarm; the comment names its author from the token" }),
      },
    )
    .get(
      "/devices/:id/alarms",
      async ({ params, query }) => {
        await devices.get(params.id);
        return list(query, params.id);
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object(Filters),
        response: { 200: Page, 400: ErrorBody, 404: ErrorBody },
        detail: needs("viewer", { summary: "A device's alarms, by start time newest first, filtered and paged like GET /alarms" }),
      },
    );
}

function filterOf(query: FilterQuery): Omit<AlarmFilter, "deviceId"> {
  return {
    severity: query.severity ? severities(query.severity) : undefined,
    status: query.status,
    acknowledged: query.acknowledged,
    source: query.source,
    from: query.from === undefined ? undefined : new Date(instant("from", query.from)),
    to: query.to === undefined ? undefined : new Date(instant("to", query.to)),
  };
}

/** `severity=major&severity=minor` and `severity=major,minor` alike. */
function severities(values: string[]): Severity[] {
  const named = values.flatMap((v) => v.split(",")).filter((v) => v !== "");
  const unknown = named.filter((v) => !(SEVERITIES as readonly string[]).includes(v));
  if (unknown.length) throw new InvalidInputError("invalid_request", `severity: '${unknown.join("', '")}' is not one of ${SEVERITIES.join(", ")}`);
  return named as Severity[];
}
