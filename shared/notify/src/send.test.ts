import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startSmtpServer, startWebhookReceiver, type TestSmtpServer, type TestWebhookReceiver } from "@umos/testkit";
import { summarize, type Notification } from "./notification";
import { sendNotification } from "./send";

const base = {
  id: "0195a000-0000-7000-8000-000000000001",
  trigger: "alarm.raised",
  at: "2025-03-01T10:00:00.000Z",
  vendor: "generic",
  deviceId: "pump-7",
  by: null,
  alarm: {
    id: "0195a000-0000-7000-8000-0000000000a1",
    type: "pressure.high",
    source: "rule:pressure",
    severity: "critical",
    status: "active",
    acknowledged: false,
    acknowledgedBy: null,
    assignee: null,
    startedAt: "2025-03-01T10:00:00.000Z",
    endedAt: null,
    occurrences: 1,
    details: { value: 9.5, note: 'quote " and\nnewline' },
  },
} satisfies Omit<Notification, "summary">;
const notification: Notification = { ...base, summary: summarize(base) };

let smtp: TestSmtpServer;
let receiver: TestWebhookReceiver;
const secret = "whsec-test-0123456789";

beforeAll(async () => {
  [smtp, receiver] = await Promise.all([startSmtpServer(), startWebhookReceiver(secret)]);
});

afterAll(async () => {
  await Promise.all([smtp?.stop(), receiver?.stop()]);
});

describe("webhook", () => {
  test("a json webhook is signed so the receiver verifies it, and carries the notification", async () => {
    const detail = await sendNotification({ kind: "webhook", config: { url: receiver.url } }, secret, notification, 2000);
    expect(detail).toBe("HTTP 204");
    const call = receiver.calls.at(-1)!;
    expect(call.body).toMatchObject({ id: notification.id, trigger: "alarm.raised", alarm: { severity: "critical" }, text: notification.summary });
    expect(call.headers.get("x-umos-notification-id")).toBe(notification.id);
  });

  test("a slack template's values are JSON-escaped into the body", async () => {
    const config = { url: receiver.url, format: "slack" as const, text: "{{alarm.severity}}: {{alarm.details.note}} {{alarm.details}}" };
    await sendNotification({ kind: "webhook", config }, secret, notification, 2000);
    expect(receiver.calls.at(-1)!.body).toEqual({
      text: `critical: quote " and\nnewline ${JSON.stringify(notification.alarm!.details)}`,
    });
  });

  test("a refused call fails with the endpoint's status and answer", async () => {
    const refused = receiver.refused;
    const sent = sendNotification({ kind: "webhook", config: { url: receiver.url } }, "another-secret", notification, 2000);
    await expect(sent).rejects.toThrow("webhook answered HTTP 401: bad signature");
    expect(receiver.refused).toBe(refused + 1);
  });

  test("no connection and no answer in time are failures that say so", async () => {
    const closed = sendNotification({ kind: "webhook", config: { url: "http://127.0.0.1:1/x" } }, null, notification, 2000);
    await expect(closed).rejects.toThrow("webhook unreachable");
    const silent = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(2000).then(() => new Response("late")) });
    try {
      const late = sendNotification({ kind: "webhook", config: { url: `http://127.0.0.1:${silent.port}/` } }, null, notification, 200);
      await expect(late).rejects.toThrow("webhook did not answer within 200 ms");
    } finally {
      await silent.stop(true);
    }
  });
});

describe("email", () => {
  const config = () => ({ host: smtp.host, port: smtp.port, user: smtp.user, from: "umos@example.test", to: ["ops@example.test"], ca: smtp.ca });

  test("a mail goes through STARTTLS and AUTH with the alarm's fields", async () => {
    const detail = await sendNotification({ kind: "email", config: config() }, smtp.password, notification, 5000);
    expect(detail).toContain("250 OK stored");
    const [mail] = await smtp.received(1);
    expect(mail).toMatchObject({ from: "umos@example.test", to: ["ops@example.test"], tls: true, authenticated: true });
    expect(mail!.data).toContain("Subject: [UMOS] critical alarm pressure.high on pump-7 raised");
    expect(mail!.data).toContain("alarm.severity: critical");
    expect(mail!.data).toContain("deviceId: pump-7");
  });

  test("a wrong password fails with the server's refusal, without the password", async () => {
    const sent = sendNotification({ kind: "email", config: config() }, "wrong-password", notification, 5000);
    await expect(sent).rejects.toThrow(/SMTP 127\.0\.0\.1:\d+: .*535/);
    await sent.catch((err: Error) => expect(err.message).not.toContain("wrong-password"));
  });

  test("a server certificate nobody vouches for is refused", async () => {
    const { ca: _, ...untrusted } = config();
    await expect(sendNotification({ kind: "email", config: untrusted }, smtp.password, notification, 5000)).rejects.toThrow(/certificate/i);
  });
});
