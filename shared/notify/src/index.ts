export { TRIGGERS, TEMPLATE_ROOTS, summarize, type Trigger, type Notification, type NotifiedAlarm, type NotifiedCommand } from "./notification";
export {
  CHANNEL_KINDS,
  MAX_RECIPIENTS,
  WebhookConfigSchema,
  EmailConfigSchema,
  channelTarget,
  type ChannelKind,
  type ChannelTarget,
  type WebhookConfig,
  type EmailConfig,
} from "./channel";
export { render } from "./template";
export { secretBox, type SecretBox } from "./secrets";
export { webhookSignature, verifyWebhookSignature, webhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, ID_HEADER } from "./webhook";
export { sendNotification } from "./send";
