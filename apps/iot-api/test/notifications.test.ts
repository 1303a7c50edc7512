import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Role } from "@umos/auth";
import { connectBus, shareBus } from "@umos/bus";
import { silentLogger } from "@umos/core";
import { notificationRepository, type Database } from "@umos/store";
import {
  createBusFile,
  createMigratedDatabase,
  startSmtpServer,
  startWebhookReceiver,
  testConfig,
  testDeps,
  testToken,
  type Json,
  type TestDatabase,
  type TestSmtpServer,
  type TestWebhookReceiver,
} from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * The notification-channel routes, iot-api driven in process on a real PostgreSQL, with a real
 * HTTP receiver that checks signatures and a real SMTP server (STARTTLS, AUTH) for the test sends.
 * A second iot-api on the same database runs without notifications.secretKey.
 */
const SIGNING_SECRET = "whsec-api-test-0123456789";
let database: TestDatabase & { db: Database };
let receiver: TestWebhookReceiver;
let smtp: TestSmtpServer;
let api: Api;
let keyless: Api;

type Api = Awaited<ReturnType<typeof startApi>>;

async function startApi(env: Record<string, string>) {
  const busFile = await createBusFile();
  const config = testConfig({ busUrl: busFile.url, postgresUrl: database.url }, { UMOS_NOTIFICATIONS__TIMEOUT_MS: "2000", ...env });
  const deps = testDeps("iot-api");
  const bus = await connectBus({ ...config.bus, name: "notifications-test", log: silentLogger });
  const app = createApp(config, { ...deps, bus: shareBus(bus, config.bus.url, deps.obs), db: database.db });
  await app.start();
  const tokens = Object.fromEntries(await Promise.all((["viewer", "operator", "admin"] as const).map(async (r) => [r, await testToken(r)])));
  return {
    /** The answer to a call as `role`, its body parsed, and its raw text. */
    async call(role: Role, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; text: string }> {
      const res = await app.handle(
        new Request(`http://localhost:8080/api/v1/notification-channels${path}`, {
          method,
          headers: { authorization: `Bearer ${tokens[role]}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
    },
    async dispose() {
      await app.stop();
      await bus.close();
      await busFile.dispose();
    },
  };
}

beforeAll(async () => {
  [database, receiver, smtp] = await Promise.all([createMigratedDatabase(), startWebhookReceiver(SIGNING_SECRET), startSmtpServer()]);
  [api, keyless] = await Promise.all([startApi({ UMOS_NOTIFICATIONS__SECRET_KEY: "api-test-notification-key-0123456789" }), startApi({})]);
}, 30_000);

afterAll(async () => {
  await Promise.all([api?.dispose(), keyless?.dispose()]);
  await Promise.all([database?.dispose(), receiver?.stop(), smtp?.stop()]);
});

const webhook = (overrides: Record<string, unknown> = {}) => ({
  name: "on-call hook",
  kind: "webhook",
  webhook: { url: receiver.url, format: "json" },
  secret: SIGNING_SECRET,
  triggers: ["alarm.raised", "alarm.escalated"],
  minSeverity: "major",
  ...overrides,
});

const email = (overrides: Record<string, unknown> = {}) => ({
  name: "ops mail",
  kind: "email",
  email: { host: smtp.host, port: smtp.port, user: smtp.user, from: "umos@example.test", to: ["ops@example.test"], ca: smtp.ca },
  secret: smtp.password,
  triggers: ["alarm.raised", "device.offline"],
  ...overrides,
});

describe("notification channels", () => {
  test("an admin creates, reads, changes and deletes a channel, and no answer ever carries its secret", async () => {
    const created = await api.call("admin", "POST", "", webhook({ ratePerMinute: 10, dedupeWindowMs: 60_000 }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "on-call hook",
      kind: "webhook",
      enabled: true,
      webhook: { url: receiver.url, format: "json" },
      secretSet: true,
      triggers: ["alarm.raised", "alarm.escalated"],
      minSeverity: "major",
      deviceIds: null,
      ratePerMinute: 10,
      dedupeWindowMs: 60_000,
    });
    const id = created.body.id as string;
    const answers = [
      created,
      await api.call("admin", "GET", ""),
      await api.call("admin", "GET", `/${id}`),
      await api.call("admin", "PUT", `/${id}`, webhook({ name: "renamed", secret: undefined })),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(answer === created ? 201 : 200);
      expect(answer.text).not.toContain(SIGNING_SECRET);
      expect(answer.text).not.toContain('"secret"');
    }
    expect(answers[3]!.body).toMatchObject({ name: "renamed", secretSet: true });
    const [stored] = await database.db.sql<{ secret: string }[]>`select secret from notification_channels where id = ${id}`;
    expect(stored!.secret).not.toContain(SIGNING_SECRET);

    expect((await api.call("admin", "PUT", `/${id}`, webhook({ secret: null }))).body.secretSet).toBe(false);
    expect((await api.call("admin", "DELETE", `/${id}`)).status).toBe(204);
    expect((await api.call("admin", "GET", `/${id}`)).status).toBe(404);
  });

  test("without notifications.secretKey a channel with a secret is refused, saying what to set; one without is taken", async () => {
    const refused = await keyless.call("admin", "POST", "", webhook());
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("secret_key_missing");
    expect(refused.body.error.message).toContain("set notifications.secretKey");
    expect((await keyless.call("admin", "POST", "", webhook({ secret: undefined, webhook: { url: receiver.url, format: "slack" } }))).status).toBe(201);
  });

  test("settings that cannot work are refused, naming the field", async () => {
    const refusal = async (body: unknown) => {
      const answer = await api.call("admin", "POST", "", body);
      expect(answer.status).toBe(400);
      return answer.body.error.message as string;
    };
    expect(await refusal(webhook({ webhook: { url: "ftp://example.test/x" } }))).toContain("url");
    expect(await refusal(webhook({ webhook: { url: receiver.url, format: "slack", text: "{{alarm.severity}} on {{device}}" } }))).toContain(
      "webhook/text: no field 'device'",
    );
    expect(await refusal(webhook({ email: email().email }))).toBe("email: not a setting of webhook channels");
    expect(await refusal(webhook({ kind: "email" }))).toBe("webhook: not a setting of email channels");
    expect(await refusal(email({ secret: undefined }))).toBe("secret: email/user needs its SMTP password as the secret");
    const tooMany = Array.from({ length: 21 }, (_, i) => `r${i}@example.test`);
    expect(await refusal(email({ email: { ...email().email, to: tooMany } }))).toContain("to");
    expect(await refusal(webhook({ triggers: ["alarm.exploded"] }))).toContain("/triggers/0: Expected string to match");
    expect(await refusal(webhook({ extra: true }))).toContain("extra");
    expect(await refusal(webhook({ kind: "pager" }))).toContain("kind");
  });

  test("configuring channels is for admins; an operator reads what was delivered", async () => {
    const { body } = await api.call("admin", "POST", "", webhook());
    expect((await api.call("operator", "POST", "", webhook())).status).toBe(403);
    expect((await api.call("operator", "GET", "")).status).toBe(403);
    expect((await api.call("operator", "POST", `/${body.id}/test`)).status).toBe(403);
    expect((await api.call("viewer", "GET", `/${body.id}/deliveries`)).status).toBe(403);
    expect((await api.call("operator", "GET", `/${body.id}/deliveries`)).status).toBe(200);
  });

  test("deliveries are listed newest first, in pages", async () => {
    const { body } = await api.call("admin", "POST", "", webhook());
    const repo = notificationRepository(database.db.sql);
    for (const eventId of ["e-1", "e-2", "e-3"]) {
      await repo.claim({ eventId, channelId: body.id, trigger: "alarm.raised", alarmId: null, ratePerMinute: 100, dedupeWindowMs: 0, staleMs: 1000 });
      await repo.settle(eventId, body.id, "sent", "HTTP 204");
    }
    const first = await api.call("operator", "GET", `/${body.id}/deliveries?limit=2`);
    expect(first.body.items.map((d: { eventId: string }) => d.eventId)).toEqual(["e-3", "e-2"]);
    expect(first.body.items[0]).toMatchObject({ trigger: "alarm.raised", status: "sent", attempts: 1, detail: "HTTP 204" });
    const second = await api.call("operator", "GET", `/${body.id}/deliveries?limit=2&before=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ items: [{ eventId: "e-1" }], nextCursor: null });
    expect((await api.call("operator", "GET", `/${Bun.randomUUIDv7()}/deliveries`)).status).toBe(404);
  });
});

describe("test sends", () => {
  test("a webhook test is delivered signed, and the answer says the receiver took it", async () => {
    const { body } = await api.call("admin", "POST", "", webhook({ enabled: false }));
    const sent = await api.call("admin", "POST", `/${body.id}/test`);
    expect(sent).toMatchObject({ status: 200, body: { ok: true, detail: "HTTP 204" } });
    expect(receiver.calls.at(-1)!.body).toMatchObject({ trigger: "test", by: "test-admin", alarm: { severity: "warning" } });
  });

  test("an email test goes over STARTTLS with AUTH", async () => {
    const { body } = await api.call("admin", "POST", "", email());
    const sent = await api.call("admin", "POST", `/${body.id}/test`);
    expect(sent.body.ok).toBe(true);
    const [mail] = await smtp.received(1);
    expect(mail).toMatchObject({ tls: true, authenticated: true, to: ["ops@example.test"] });
    expect(mail!.data).toContain("Subject: [UMOS] UMOS test notification: this channel works");
  });

  test("a failed test says why: the receiver's refusal, no connection, the SMTP server's refusal", async () => {
    const wrongSecret = await api.call("admin", "POST", "", webhook({ secret: "not-the-receivers-secret" }));
    expect((await api.call("admin", "POST", `/${wrongSecret.body.id}/test`)).body).toEqual({ ok: false, detail: "webhook answered HTTP 401: bad signature" });

    const closed = await api.call("admin", "POST", "", webhook({ webhook: { url: "http://127.0.0.1:1/hook" } }));
    const unreachable = await api.call("admin", "POST", `/${closed.body.id}/test`);
    expect(unreachable.status).toBe(200);
    expect(unreachable.body.ok).toBe(false);
    expect(unreachable.body.detail).toStartWith("webhook unreachable");

    const badLogin = await api.call("admin", "POST", "", email({ secret: "wrong-password" }));
    const refused = await api.call("admin", "POST", `/${badLogin.body.id}/test`);
    expect(refused.body.ok).toBe(false);
    expect(refused.body.detail).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*535/);
    expect(refused.text).not.toContain("wrong-password");
  });

  test("a channel whose secret the API cannot open (no notifications.secretKey) fails its test with the setting named", async () => {
    const { body } = await api.call("admin", "POST", "", webhook());
    const answer = await keyless.call("admin", "POST", `/${body.id}/test`);
    expect(answer.body.ok).toBe(false);
    expect(answer.body.detail).toContain("set notifications.secretKey");
  });
});
