import { createHmac, timingSafeEqual } from "node:crypto";
import { UmosError } from "@umos/core";
import type { WebhookConfig } from "./channel";
import type { Notification } from "./notification";
import { render } from "./template";

/** Headers of every webhook call (docs/notifications.md, Verifying a webhook). */
export const SIGNATURE_HEADER = "X-UMOS-Signature";
export const TIMESTAMP_HEADER = "X-UMOS-Timestamp";
export const ID_HEADER = "X-UMOS-Notification-Id";

/** How much of a refusing endpoint's answer the failure reason quotes. */
const REASON_BODY_CHARS = 200;

/** Severity colours of a Teams card's edge. */
const TEAMS_COLOURS: Record<string, string> = { critical: "D13438", major: "F7630C", minor: "FFB900", warning: "FFF100" };

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is signed too, so an old call cannot be replayed with a new one. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * What a receiver does (docs/notifications.md): the signature matches, compared in constant time,
 * and the timestamp is within `toleranceSec` of its clock.
 */
export function verifyWebhookSignature(
  secret: string,
  header: { timestamp: string | null; signature: string | null },
  body: string,
  toleranceSec = 300,
): boolean {
  const timestamp = Number(header.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > toleranceSec || !header.signature) return false;
  const expected = Buffer.from(webhookSignature(secret, timestamp, body));
  const given = Buffer.from(header.signature);
  return expected.byteLength === given.byteLength && timingSafeEqual(expected, given);
}

/** The request body in the channel's format; template values go in through JSON.stringify, so they are JSON-escaped. */
export function webhookBody(config: WebhookConfig, n: Notification): string {
  const text = render(config.text ?? "{{summary}}", n);
  switch (config.format ?? "json") {
    case "json":
      return JSON.stringify({ ...n, text });
    case "slack":
      return JSON.stringify({ text });
    case "teams":
      // An Office 365 connector card, which a Teams channel's Incoming Webhook takes.
      return JSON.stringify({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        summary: n.summary,
        themeColor: TEAMS_COLOURS[n.alarm?.severity ?? ""] ?? "0078D7",
        title: `UMOS ${n.trigger}`,
        text,
      });
  }
}

/**
 * POSTs the notification; resolves with what the endpoint answered, or fails with the reason: the
 * status and the head of the body of a non-2xx answer, no answer within `timeoutMs`, or no
 * connection. Redirects are not followed: the configured URL is the one that was meant.
 */
export async function sendWebhook(config: WebhookConfig, secret: string | null, n: Notification, timeoutMs: number): Promise<string> {
  const body = webhookBody(config, n);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "UMOS-Notifier/1",
    [TIMESTAMP_HEADER]: String(timestamp),
    [ID_HEADER]: n.id,
  };
  if (secret) headers[SIGNATURE_HEADER] = webhookSignature(secret, timestamp, body);
  let response: Response;
  try {
    response = await fetch(config.url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    throw new UmosError("send_failed", timedOut ? `webhook did not answer within ${timeoutMs} ms` : `webhook unreachable: ${describe(err)}`, true);
  }
  const answer = (await response.text().catch(() => "")).slice(0, REASON_BODY_CHARS).trim();
  if (!response.ok) throw new UmosError("send_failed", `webhook answered HTTP ${response.status}${answer ? `: ${answer}` : ""}`, true);
  return `HTTP ${response.status}`;
}

function describe(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}
