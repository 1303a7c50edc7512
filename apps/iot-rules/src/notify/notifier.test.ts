import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { connectServiceBus, shareBus, type Bus, type BusMessage } from "@umos/bus";
import type { RulesConfig } from "@umos/config";
import { DEAD_LETTER_QUEUE, HEADERS, KINDS, QUEUES, routingKey, type Envelope } from "@umos/contracts";
import { silentLogger } from "@umos/core";
import { createApp as createApi } from "@umos/iot-api/app";
import { secretBox, TRIGGERS } from "@umos/notify";
import type { Observability } from "@umos/observability";
import { alarmEvent, deadLetterRepository, notificationRepository, type ChannelInput, type Database, type NotificationChannel } from "@umos/store";
import {
  createMigratedDatabase,
  createVhost,
  eventually,
  startSmtpServer,
  startWebhookReceiver,
  testConfig,
  testDeps,
  testToken,
  type TestDatabase,
  type TestSmtpServer,
  type TestVhost,
  type TestWebhookReceiver,
} from "@umos/testkit";
import { testAlarm } from "../../test/fixtures/alarms";
import { startNotifier } from "./notifier";

/**
 * The notifier on a RabbitMQ vhost and a PostgreSQL database of its own, delivering to a real SMTP
 * server (STARTTLS, AUTH) and a real HTTP receiver that checks the signature. Few attempts and
 * short timeouts, so a dead letter comes within seconds.
 */
const SECRET_KEY = "notifier-test-secret-key-0123456789";
const SIGNING_SECRET = "whsec-notifier-test-0123";
const MAX_ATTEMPTS = 3;

let vhost: TestVhost;
let database: TestDatabase & { db: Database };
let smtp: TestSmtpServer;
let receiver: TestWebhookReceiver;
let config: RulesConfig & ReturnType<typeof testConfig>;
let bus: Bus;
let obs: Observability;
let notifier: { stop(): Promise<void> };

beforeAll(async () => {
  [vhost, database, smtp, receiver] = await Promise.all([createVhost(), createMigratedDatabase(), startSmtpServer(), startWebhookReceiver(SIGNING_SECRET)]);
  config = testConfig(
    { busUrl: vhost.url, postgresUrl: database.url },
    { UMOS_NOTIFICATIONS__SECRET_KEY: SECRET_KEY, UMOS_NOTIFICATIONS__MAX_ATTEMPTS: String(MAX_ATTEMPTS), UMOS_NOTIFICATIONS__TIMEOUT_MS: "2000" },
  );
  obs = testDeps("iot-rules").obs;
  bus = await connectServiceBus(config.bus, "iot-rules", config.instance, silentLogger, obs);
  notifier = await startNotifier({ bus, db: database.db, log: silentLogger, obs, config });
}, 30_000);

afterAll(async () => {
  await notifier?.stop();
  await bus?.close();
  await Promise.all([database?.dispose(), vhost?.dispose(), smtp?.stop(), receiver?.stop()]);
});

const channels = () => notificationRepository(database.db.sql);
const box = secretBox(SECRET_KEY);

beforeEach(async () => {
  await database.db.sql`delete from notification_channels`;
  receiver.calls.splice(0);
  smtp.mails.splice(0);
});

async function channel(kind: "webhook" | "email", overrides: Partial<ChannelInput> = {}): Promise<NotificationChannel> {
  const id = Bun.randomUUIDv7();
  const webhook = { config: { url: receiver.url, format: "json" }, secret: SIGNING_SECRET };
  const email = {
    config: { host: smtp.host, port: smtp.port, user: smtp.user, from: "umos@example.test", to: ["ops@example.test"], ca: smtp.ca },
    secret: smtp.password,
  };
  const { config: channelConfig, secret } = kind === "webhook" ? webhook : email;
  const input: ChannelInput = {
    name: `${kind} ${id.slice(-4)}`,
    kind,
    enabled: true,
    config: channelConfig,
    triggers: [...TRIGGERS],
    minSeverity: null,
    deviceIds: null,
    ratePerMinute: null,
    dedupeWindowMs: 0,
    ...overrides,
  };
  return channels().create(id, input, box.seal(secret, id));
}

async function publish({ routingKey: key, envelope }: { routingKey: string; envelope: Envelope }): Promise<Envelope> {
  await bus.publish(key, Buffer.from(JSON.stringify(envelope)), {
    messageId: envelope.id,
    contentType: "application/json",
    headers: { [HEADERS.deviceId]: envelope.deviceId },
  });
  return envelope;
}

const deliveries = async (channelId: string) => (await channels().deliveries(channelId, { limit: 100 })).items;

/** iot_notifications_total for a kind and outcome, so far. */
async function counted(kind: string, outcome: string): Promise<number> {
  const metric = await obs.metrics.registry.getSingleMetric("iot_notifications_total")?.get();
  return metric?.values.find((v) => v.labels.kind === kind && v.labels.outcome === outcome)?.value ?? 0;
}

describe("the notifier", () => {
  test("an alarm raised on the bus reaches both channels: the webhook signed and verified, the mail over STARTTLS and AUTH with the alarm's fields", async () => {
    const [hook, mail] = [await channel("webhook"), await channel("email")];
    const alarm = testAlarm({ severity: "critical", type: "pressure.high", deviceId: "pump-7" });
    const event = await publish(alarmEvent(alarm, "raised"));

    await eventually(() => receiver.calls.length === 1, 10_000, "the webhook call");
    const [received] = await smtp.received(1);
    expect(receiver.refused).toBe(0);
    expect(receiver.calls[0]!.body).toMatchObject({
      id: event.id,
      trigger: "alarm.raised",
      deviceId: "pump-7",
      alarm: { id: alarm.id, severity: "critical", type: "pressure.high" },
    });
    expect(received).toMatchObject({ tls: true, authenticated: true, to: ["ops@example.test"] });
    expect(received!.data).toContain("Subject: [UMOS] critical alarm pressure.high on pump-7 raised");
    expect(received!.data).toContain(`alarm.id: ${alarm.id}`);
    await eventually(async () => (await deliveries(mail.id))[0]?.status === "sent");
    for (const c of [hook, mail])
      expect(await deliveries(c.id)).toMatchObject([{ eventId: event.id, trigger: "alarm.raised", alarmId: alarm.id, status: "sent", attempts: 1 }]);
  });

  test("an event delivered twice (a redelivery, or the outbox publishing it again) is sent once per channel", async () => {
    const [hook, mail] = [await channel("webhook"), await channel("email")];
    const duplicates = { webhook: await counted("webhook", "duplicate"), email: await counted("email", "duplicate") };
    const event = alarmEvent(testAlarm(), "raised");
    await publish(event);
    await eventually(async () => (await deliveries(mail.id))[0]?.status === "sent" && (await deliveries(hook.id))[0]?.status === "sent");
    await publish(event);
    await eventually(
      async () => (await counted("webhook", "duplicate")) > duplicates.webhook && (await counted("email", "duplicate")) > duplicates.email,
      10_000,
      "the second delivery to be taken as a duplicate",
    );
    expect(receiver.calls).toHaveLength(1);
    expect(smtp.mails).toHaveLength(1);
    expect(await deliveries(hook.id)).toMatchObject([{ status: "sent", attempts: 1 }]);
  });

  test("past a channel's rate per minute a notification is recorded as suppressed with the reason, not sent", async () => {
    const hook = await channel("webhook", { ratePerMinute: 2 });
    for (let i = 0; i < 3; i++) await publish(alarmEvent(testAlarm({ deviceId: `pump-${i}` }), "raised"));
    const rows = await eventually(async () => {
      const all = await deliveries(hook.id);
      return all.length === 3 && all.every((d) => d.status !== "sending") && all;
    });
    expect(rows.map((d) => d.status).sort()).toEqual(["sent", "sent", "suppressed"]);
    expect(rows.find((d) => d.status === "suppressed")!.detail).toBe("rate limit: the channel sent 2 notifications in the last minute, its limit is 2");
    expect(receiver.calls).toHaveLength(2);
  });

  test("the same alarm's same trigger again within the dedupe window is recorded as suppressed", async () => {
    const hook = await channel("webhook", { dedupeWindowMs: 60_000 });
    const alarm = testAlarm({ severity: "critical" });
    const first = await publish(alarmEvent(alarm, "escalated"));
    await eventually(async () => (await deliveries(hook.id))[0]?.status === "sent");
    const second = await publish(alarmEvent(alarm, "escalated"));
    const [row] = await eventually(async () => {
      const all = await deliveries(hook.id);
      return all.length === 2 && all;
    });
    expect(row).toMatchObject({ eventId: second.id, status: "suppressed" });
    expect(row!.detail).toContain(`duplicate: alarm.escalated of alarm ${alarm.id} was sent at`);
    expect(row!.detail).toContain(`(event ${first.id})`);
    expect(receiver.calls).toHaveLength(1);
  });

  test("a channel gets only its triggers, alarms from its minimum severity, and its devices", async () => {
    const picky = await channel("webhook", { triggers: ["alarm.raised"], minSeverity: "major", deviceIds: ["pump-7"] });
    const witness = await channel("webhook");
    const wanted = await publish(alarmEvent(testAlarm({ severity: "critical", deviceId: "pump-7" }), "raised"));
    await publish(alarmEvent(testAlarm({ severity: "warning", deviceId: "pump-7" }), "raised"));
    await publish(alarmEvent(testAlarm({ severity: "critical", deviceId: "pump-8" }), "raised"));
    await publish({
      routingKey: routingKey("generic", "event", KINDS.statusOffline),
      envelope: { id: Bun.randomUUIDv7(), ts: Date.now(), vendor: "generic", deviceId: "pump-7", kind: KINDS.statusOffline, data: {} },
    });
    await eventually(async () => (await deliveries(witness.id)).filter((d) => d.status === "sent").length === 4, 10_000, "the witness's four");
    expect(await deliveries(picky.id)).toMatchObject([{ eventId: wanted.id, status: "sent" }]);
  });

  test("a receiver that stays down: dead-lettered after maxAttempts; once it is back, the replay through the dead-letter API sends only to the channel it missed", async () => {
    const [hook, mail] = [await channel("webhook"), await channel("email")];
    const dead: BusMessage[] = [];
    const deadLetters = await bus.consume({ queue: DEAD_LETTER_QUEUE }, async (message) => void dead.push(message));
    await receiver.down();
    try {
      const event = await publish(alarmEvent(testAlarm(), "raised"));
      const [letter] = await eventually(() => dead.length === 1 && dead, 15_000, "the dead letter");
      expect(letter!.messageId).toBe(event.id);
      expect(letter!.headers[HEADERS.deadLetterCode]).toBe("gave_up");
      expect(letter!.headers[HEADERS.deadLetterQueue]).toBe(QUEUES.notify);
      expect(String(letter!.headers[HEADERS.deadLetterReason])).toContain(`failed ${MAX_ATTEMPTS} times`);
      expect(String(letter!.headers[HEADERS.deadLetterReason])).toContain("webhook unreachable");
      expect(smtp.mails).toHaveLength(1);
      expect(await deliveries(hook.id)).toMatchObject([{ status: "failed", attempts: MAX_ATTEMPTS }]);
      expect((await deliveries(hook.id))[0]!.detail).toContain("webhook unreachable");

      receiver.up();
      // Stored as iot-uplink's archiver stores it, then replayed through iot-api as an operator would.
      const store = deadLetterRepository(database.db.sql);
      await store.archive([
        {
          dedupeKey: `test:${letter!.messageId}`,
          queue: String(letter!.headers[HEADERS.deadLetterQueue]),
          code: String(letter!.headers[HEADERS.deadLetterCode]),
          reason: String(letter!.headers[HEADERS.deadLetterReason]),
          routingKey: letter!.routingKey,
          messageId: letter!.messageId ?? null,
          contentType: letter!.contentType ?? null,
          deviceId: String(letter!.headers[HEADERS.deviceId]),
          headers: letter!.headers,
          payload: letter!.body,
          payloadSize: letter!.body.byteLength,
          replayCount: 0,
          deadLetteredAt: new Date(),
        },
      ]);
      const [archived] = (await store.page({ limit: 1, previewBytes: 0 })).items;
      const apiDeps = testDeps("iot-api");
      const api = createApi(config, { ...apiDeps, bus: shareBus(bus, config.bus.url, apiDeps.obs), db: database.db });
      await api.start();
      try {
        const duplicates = await counted("email", "duplicate");
        const replay = await api.handle(
          new Request(`http://localhost/api/v1/dead-letters/${archived!.id}/replay`, {
            method: "POST",
            headers: { authorization: `Bearer ${await testToken("admin")}` },
          }),
        );
        expect(replay.status).toBe(200);
        await eventually(() => receiver.calls.length === 1, 10_000, "the replayed webhook call");
        await eventually(async () => (await counted("email", "duplicate")) > duplicates, 10_000, "the email channel skipping the replay");
        expect(receiver.calls[0]!.body).toMatchObject({ id: event.id, trigger: "alarm.raised" });
        expect(smtp.mails).toHaveLength(1);
        expect(await deliveries(hook.id)).toMatchObject([{ status: "sent", attempts: MAX_ATTEMPTS + 1 }]);
        expect(await deliveries(mail.id)).toMatchObject([{ status: "sent", attempts: 1 }]);
      } finally {
        await api.stop();
      }
    } finally {
      receiver.up();
      await deadLetters.stop();
    }
  }, 30_000);
});
