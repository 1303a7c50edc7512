import { type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { InvalidInputError } from "@umos/core";
import { TEMPLATE_ROOTS } from "./notification";
import { placeholderRoots } from "./template";

/** Where a channel delivers: an HTTP endpoint, or mailboxes through an SMTP server. */
export const CHANNEL_KINDS = ["webhook", "email"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Recipients of one email channel: a notification is for a team's list, not a mailing. */
export const MAX_RECIPIENTS = 20;

const Template = (maxLength: number, description: string) =>
  T.String({ minLength: 1, maxLength, description: `${description}; {{path}} placeholders over the notification's fields, e.g. {{alarm.severity}}` });

// An address, without a display name: enough for nodemailer, and nothing that could open a new header.
const Address = T.String({ maxLength: 254, pattern: '^[^\\s@<>",;:]+@[^\\s@<>",;:]+$', description: "an email address" });

export const WebhookConfigSchema = T.Object(
  {
    url: T.String({ maxLength: 2048, pattern: "^https?://[^\\s]+$", description: "http(s) URL the notification is POSTed to" }),
    format: T.Optional(
      T.Union([T.Literal("json"), T.Literal("slack"), T.Literal("teams")], {
        description: "json: UMOS's notification (default); slack: {text} for a Slack incoming webhook; teams: a MessageCard for a Teams incoming webhook",
      }),
    ),
    text: T.Optional(Template(4000, "the message text (slack, teams; json: its `text` field); default {{summary}}")),
  },
  { additionalProperties: false },
);
export type WebhookConfig = Static<typeof WebhookConfigSchema>;

export const EmailConfigSchema = T.Object(
  {
    host: T.String({ minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9._:\\[\\]-]+$", description: "SMTP server" }),
    port: T.Optional(T.Integer({ minimum: 1, maximum: 65535, description: "default 587 (starttls), 465 (tls), 25 (none)" })),
    security: T.Optional(
      T.Union([T.Literal("starttls"), T.Literal("tls"), T.Literal("none")], {
        description:
          "starttls (default): plain connect, then STARTTLS, required; tls: TLS from the first byte (port 465); none: no encryption, for a relay on the same host only",
      }),
    ),
    user: T.Optional(T.String({ minLength: 1, maxLength: 256, description: "AUTH user; the password is the channel's secret" })),
    from: Address,
    to: T.Array(Address, { minItems: 1, maxItems: MAX_RECIPIENTS, uniqueItems: true }),
    subject: T.Optional(Template(300, "the subject; default [UMOS] {{summary}}")),
    text: T.Optional(Template(8000, "the plain-text body; default: the summary and the notification's fields")),
    ca: T.Optional(
      T.String({
        maxLength: 16_384,
        pattern: "-----BEGIN CERTIFICATE-----",
        description: "PEM certificate(s) to trust for the server besides the system's (a private CA)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type EmailConfig = Static<typeof EmailConfigSchema>;

/** A channel's destination as the senders take it. */
export type ChannelTarget = { kind: "webhook"; config: WebhookConfig } | { kind: "email"; config: EmailConfig };

const checkers = { webhook: TypeCompiler.Compile(WebhookConfigSchema), email: TypeCompiler.Compile(EmailConfigSchema) };

/**
 * A stored or submitted configuration as a target, or an InvalidInputError naming the field: the
 * schema, the URL, and every template placeholder's first segment (a typo would otherwise render as nothing).
 * `field` is where the caller took the configuration from, for the message.
 */
export function channelTarget(kind: ChannelKind, config: unknown, field: string = kind): ChannelTarget {
  const checker = checkers[kind];
  if (!checker.Check(config)) {
    const first = checker.Errors(config).First();
    throw new InvalidInputError("invalid_channel", `${field}${first?.path ?? ""}: ${first?.message ?? "invalid"}`);
  }
  if (kind === "webhook" && !URL.canParse((config as WebhookConfig).url)) throw new InvalidInputError("invalid_channel", `${field}/url: not a URL`);
  const templates = config as { text?: string; subject?: string };
  for (const name of ["subject", "text"] as const) {
    const unknown = placeholderRoots(templates[name] ?? "").filter((root) => !TEMPLATE_ROOTS.includes(root));
    if (unknown.length > 0) {
      throw new InvalidInputError(
        "invalid_template",
        `${field}/${name}: no field ${unknown.map((u) => `'${u}'`).join(", ")}; placeholders start with one of ${TEMPLATE_ROOTS.join(", ")}`,
      );
    }
  }
  return { kind, config } as ChannelTarget;
}
