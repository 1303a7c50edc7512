import { Elysia, t } from "elysia";
import { needs } from "../access";
import { InvalidInputError } from "@umos/core";
import {
  CHANNEL_KINDS,
  channelTarget,
  EmailConfigSchema,
  sendNotification,
  summarize,
  TRIGGERS,
  WebhookConfigSchema,
  type ChannelKind,
  type EmailConfig,
  type Notification,
  type SecretBox,
  type WebhookConfig,
} from "@umos/notify";
import { SeveritySchema } from "@umos/rules";
import type { ChannelInput, NotificationChannel, NotificationRepository } from "@umos/store";
import { DeviceId, ErrorBody, Limit } from "../schemas";

/** Devices one channel may name: a filter for a site or a fleet, beyond which a thing model or tag is the better tool. */
const MAX_CHANNEL_DEVICES = 1000;

// A pattern rather than a union of literals: a wrong trigger's error then lists the ones there are.
const Trigger = t.String({ pattern: `^(${TRIGGERS.map((x) => x.replace(".", "\\.")).join("|")})$`, description: TRIGGERS.join(", ") });

const Settings = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  enabled: t.Optional(t.Boolean({ description: "default true; a disabled channel is skipped, but can be tested" })),
  kind: t.Union([t.Literal("webhook"), t.Literal("email")], { description: "webhook or email; the settings go in the object of that name" }),
  webhook: t.Optional(WebhookConfigSchema),
  email: t.Optional(EmailConfigSchema),
  triggers: t.Array(Trigger, { minItems: 1, maxItems: TRIGGERS.length, uniqueItems: true }),
  minSeverity: t.Optional(t.Nullable(SeveritySchema, { description: "alarm triggers only: alarms below it are not notified; null: all" })),
  deviceIds: t.Optional(
    t.Nullable(t.Array(DeviceId, { minItems: 1, maxItems: MAX_CHANNEL_DEVICES, uniqueItems: true, description: "only these devices; null: every device" })),
  ),
  ratePerMinute: t.Optional(
    t.Nullable(
      t.Integer({
        minimum: 1,
        maximum: 10_000,
        description: "sends per minute, past which notifications are recorded as suppressed; null: notifications.ratePerMinute",
      }),
    ),
  ),
  dedupeWindowMs: t.Optional(
    t.Integer({ minimum: 0, maximum: 86_400_000, description: "the same alarm's same trigger again within it is suppressed; 0 (default): off" }),
  ),
};

const ChannelBody = t.Object(
  {
    ...Settings,
    secret: t.Optional(
      t.Nullable(
        t.String({
          minLength: 1,
          maxLength: 1024,
          description:
            "webhook: the signing secret (X-UMOS-Signature); email: the SMTP password. Stored encrypted, never returned. PUT: omitted keeps it, null removes it",
        }),
      ),
    ),
  },
  { additionalProperties: false },
);
type ChannelBody = typeof ChannelBody.static;

const Channel = t.Object({
  id: t.String(),
  name: t.String(),
  kind: t.String({ description: "webhook or email" }),
  enabled: t.Boolean(),
  webhook: t.Optional(WebhookConfigSchema),
  email: t.Optional(EmailConfigSchema),
  secretSet: t.Boolean({ description: "whether a secret is set; the secret itself is never returned" }),
  triggers: t.Array(t.String()),
  minSeverity: t.Nullable(t.String()),
  deviceIds: t.Nullable(t.Array(t.String())),
  ratePerMinute: t.Nullable(t.Integer()),
  dedupeWindowMs: t.Integer(),
  createdAt: t.Date(),
  updatedAt: t.Date(),
});

const Delivery = t.Object({
  eventId: t.String({ description: "the event's id, also the notification's id and X-UMOS-Notification-Id" }),
  trigger: t.String(),
  alarmId: t.Nullable(t.String()),
  status: t.String({ description: "sent; suppressed (rate limit or dedupe window, see detail); failed (retried, then dead-lettered); sending: in progress" }),
  attempts: t.Integer(),
  detail: t.Nullable(t.String({ description: "the receiver's answer, or why it failed or was suppressed" })),
  at: t.Date({ description: "of the last attempt or decision" }),
});

const Id = t.Object({ id: t.String({ format: "uuid" }) });

export interface NotificationRouteParts {
  channels: NotificationRepository;
  secrets: SecretBox;
  /** notifications.timeoutMs: of a test send too. */
  timeoutMs: number;
  /** Who made the request, as its token names them. */
  callerOf(request: Request): string;
}

/** Notification channels (docs/notifications.md): configured by admins; what was delivered is for operators too. */
export function notificationRoutes({ channels, secrets, timeoutMs, callerOf }: NotificationRouteParts) {
  return new Elysia({ prefix: "/notification-channels", tags: ["notifications"] })
    .get("/", async () => ({ items: (await channels.list()).map(view) }), {
      response: { 200: t.Object({ items: t.Array(Channel) }) },
      detail: needs("admin", { summary: "Notification channels, by name; secrets appear only as secretSet" }),
    })
    .post(
      "/",
      async ({ body, set }) => {
        const id = Bun.randomUUIDv7();
        const { input, secret } = settingsOf(body, null);
        const created = await channels.create(id, input, secret ? secrets.seal(secret, id) : null);
        set.status = 201;
        set.headers.location = `/api/v1/notification-channels/${id}`;
        return view(created);
      },
      {
        body: ChannelBody,
        response: { 201: Channel, 400: ErrorBody },
        detail: needs("admin", {
          summary: "Create a channel",
          description: "A secret needs notifications.secretKey, which encrypts it at rest: without it the channel is refused (400 secret_key_missing).",
        }),
      },
    )
    .get("/:id", async ({ params }) => view(await channels.get(params.id)), {
      params: Id,
      response: { 200: Channel, 404: ErrorBody },
      detail: needs("admin", { summary: "One channel; its secret only as secretSet" }),
    })
    .put(
      "/:id",
      async ({ params, body }) => {
        const current = await channels.get(params.id);
        const { input, secret } = settingsOf(body, current);
        return view(await channels.update(params.id, input, typeof secret === "string" ? secrets.seal(secret, params.id) : secret));
      },
      {
        params: Id,
        body: ChannelBody,
        response: { 200: Channel, 400: ErrorBody, 404: ErrorBody },
        detail: needs("admin", { summary: "Replace a channel's settings; an omitted secret is kept, null removes it" }),
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await channels.remove(params.id);
        set.status = 204;
      },
      { params: Id, response: { 204: t.Void(), 404: ErrorBody }, detail: needs("admin", { summary: "Delete a channel and its delivery records" }) },
    )
    .post(
      "/:id/test",
      async ({ params, request }) => {
        const channel = await channels.sealed(params.id);
        try {
          const secret = channel.secret ? secrets.open(channel.secret, channel.id) : null;
          const detail = await sendNotification(channelTarget(channel.kind, channel.config, "config"), secret, testNotification(callerOf(request)), timeoutMs);
          return { ok: true, detail };
        } catch (err) {
          return { ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
      },
      {
        params: Id,
        response: {
          200: t.Object({
            ok: t.Boolean({ description: "whether the receiver took it" }),
            detail: t.String({ description: "the receiver's answer, or why it was not delivered" }),
          }),
          404: ErrorBody,
        },
        detail: needs("admin", {
          summary: "Send a test notification now",
          description:
            "Sends at once, disabled channels too, with trigger `test` and a sample warning alarm so templates can be checked; not recorded as a delivery. Answers 200 whether or not the receiver took it: `ok` and `detail` say which, with the status or SMTP reply.",
        }),
      },
    )
    .get("/:id/deliveries", async ({ params, query }) => channels.deliveries(params.id, { limit: query.limit ?? 50, before: query.before }), {
      params: Id,
      query: t.Object({
        limit: t.Optional(Limit),
        before: t.Optional(t.String({ pattern: "^[0-9]{1,18}$", description: "nextCursor of the previous page" })),
      }),
      response: { 200: t.Object({ items: t.Array(Delivery), nextCursor: t.Nullable(t.String()) }), 404: ErrorBody },
      detail: needs("operator", { summary: "What the channel was sent, suppressed or failed to get, newest first" }),
    });
}

/**
 * The stored settings of a request, checked beyond the schema: the kind's own settings object and
 * no other, templates naming real fields, and an SMTP login only with its password. `secret`:
 * undefined keeps the current one (PUT), a string is to be sealed, null removes it.
 */
function settingsOf(body: ChannelBody, current: NotificationChannel | null): { input: ChannelInput; secret: string | null | undefined } {
  const kind: ChannelKind = body.kind;
  const other = CHANNEL_KINDS.find((k) => k !== kind)!;
  if (body[other] !== undefined) throw new InvalidInputError("invalid_channel", `${other}: not a setting of ${kind} channels`);
  const settings = body[kind];
  if (settings === undefined) throw new InvalidInputError("invalid_channel", `${kind}: ${kind} channels need their ${kind} settings`);
  channelTarget(kind, settings, kind);
  const secret = current ? body.secret : (body.secret ?? null);
  if (current && current.kind !== kind && secret === undefined) {
    throw new InvalidInputError("invalid_channel", `secret: the channel changes from ${current.kind} to ${kind}; give the new kind's secret, or null`);
  }
  const hasSecret = secret === undefined ? current!.secretSet : secret !== null;
  if (kind === "email" && (body.email?.user !== undefined) !== hasSecret) {
    throw new InvalidInputError(
      "invalid_channel",
      hasSecret ? "email/user: the SMTP password (secret) needs the user it belongs to" : "secret: email/user needs its SMTP password as the secret",
    );
  }
  return {
    input: {
      name: body.name,
      kind,
      enabled: body.enabled ?? true,
      config: settings,
      triggers: body.triggers,
      minSeverity: body.minSeverity ?? null,
      deviceIds: body.deviceIds ?? null,
      ratePerMinute: body.ratePerMinute ?? null,
      dedupeWindowMs: body.dedupeWindowMs ?? 0,
    },
    secret,
  };
}

function view({ config, ...channel }: NotificationChannel) {
  return channel.kind === "webhook" ? { ...channel, webhook: config as WebhookConfig } : { ...channel, email: config as EmailConfig };
}

/** What a test send carries: trigger `test` and a sample alarm, so a template's placeholders show values. */
function testNotification(by: string): Notification {
  const at = new Date().toISOString();
  const n: Omit<Notification, "summary"> = {
    id: Bun.randomUUIDv7(),
    trigger: "test",
    at,
    vendor: "generic",
    deviceId: null,
    by,
    alarm: {
      id: Bun.randomUUIDv7(),
      type: "umos.test",
      source: "test",
      severity: "warning",
      status: "active",
      acknowledged: false,
      acknowledgedBy: null,
      assignee: null,
      startedAt: at,
      endedAt: null,
      occurrences: 1,
      details: {},
    },
  };
  return { ...n, summary: summarize(n) };
}
