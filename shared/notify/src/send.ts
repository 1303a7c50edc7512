import type { ChannelTarget } from "./channel";
import { sendEmail } from "./email";
import type { Notification } from "./notification";
import { sendWebhook } from "./webhook";

/**
 * Delivers one notification to one channel. `secret` is the channel's, opened: the webhook's
 * signing secret or the SMTP password. Resolves with what the other end answered; rejects with a
 * retryable UmosError (`send_failed`) whose message is the reason, for the delivery record. A new
 * kind that is not handled here fails to compile (the switch must return).
 */
export function sendNotification(target: ChannelTarget, secret: string | null, n: Notification, timeoutMs: number): Promise<string> {
  switch (target.kind) {
    case "webhook":
      return sendWebhook(target.config, secret, n, timeoutMs);
    case "email":
      return sendEmail(target.config, secret, n, timeoutMs);
  }
}
