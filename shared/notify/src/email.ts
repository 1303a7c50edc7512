import { UmosError } from "@umos/core";
import nodemailer from "nodemailer";
import type { EmailConfig } from "./channel";
import type { Notification } from "./notification";
import { render } from "./template";

const DEFAULT_PORTS = { starttls: 587, tls: 465, none: 25 } as const;

/**
 * Sends the notification as one plain-text mail through the channel's SMTP server: STARTTLS
 * required unless the channel says `tls` (TLS from the first byte) or `none`, AUTH when it names a
 * user. Resolves with the server's answer; fails with the reason (refused login, rejected
 * recipient, no TLS, no answer within `timeoutMs`) and never with the password.
 */
export async function sendEmail(config: EmailConfig, password: string | null, n: Notification, timeoutMs: number): Promise<string> {
  const security = config.security ?? "starttls";
  const port = config.port ?? DEFAULT_PORTS[security];
  const transport = nodemailer.createTransport({
    host: config.host,
    port,
    secure: security === "tls",
    requireTLS: security === "starttls",
    ignoreTLS: security === "none",
    auth: config.user ? { user: config.user, pass: password ?? "" } : undefined,
    tls: { minVersion: "TLSv1.2", ...(config.ca ? { ca: config.ca } : {}) },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  let timer: Timer | undefined;
  try {
    // Each of nodemailer's timeouts bounds one wait; this bounds the whole conversation.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const info = await Promise.race([
      transport.sendMail({
        from: config.from,
        to: config.to,
        // A value with a line break must not start a header of its own.
        subject: render(config.subject ?? "[UMOS] {{summary}}", n).replace(/[\r\n]+/g, " "),
        text: config.text ? render(config.text, n) : defaultText(n),
        headers: { "X-UMOS-Notification-Id": n.id },
      }),
      deadline,
    ]);
    return `SMTP ${config.host}:${port} accepted: ${info.response}`;
  } catch (err) {
    throw new UmosError("send_failed", `SMTP ${config.host}:${port}: ${err instanceof Error ? err.message : String(err)}`, true);
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}

/** The summary, then each field on a line of its own: what an email says without a template. */
function defaultText(n: Notification): string {
  const lines = [n.summary, ""];
  const add = (prefix: string, value: object) => {
    for (const [key, v] of Object.entries(value)) {
      if (key === "summary" || v === null || v === undefined) continue;
      if (typeof v === "object" && !Array.isArray(v) && prefix === "") add(`${key}.`, v);
      else lines.push(`${prefix}${key}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
    }
  };
  add("", n);
  return lines.join("\n");
}
