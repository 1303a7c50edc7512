import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import {
  eventually,
  startSmtpServer,
  startStack,
  startWebhookReceiver,
  type Json,
  type TestSmtpServer,
  type TestStack,
  type TestWebhookReceiver,
} from "@umos/testkit";

/**
 * The "done when" through all six services as processes, a Mosquitto of the test's own, a
 * real SMTP server (STARTTLS and AUTH) and a real webhook receiver that checks the signature: a DJI
 * dock whose aircraft's charge falls below the threshold raises an alarm once the rule's duration
 * has passed, a mail and a signed webhook arrive, WebSocket clients see it, values around the
 * threshold do not flap it, and it clears by hysteresis.
 */
const DOCK = "7CTDM3D00BVY4C";
const HOLD_MS = 2000;
const WEBHOOK_SECRET = "webhook-signing-secret-of-this-test";

let stack: TestStack;
let smtp: TestSmtpServer;
let receiver: TestWebhookReceiver;
let dock: MqttClient;

beforeAll(async () => {
  [smtp, receiver] = await Promise.all([startSmtpServer(), startWebhookReceiver(WEBHOOK_SECRET)]);
  stack = await startStack({
    UMOS_NOTIFICATIONS__SECRET_KEY: "a-key-of-this-test-that-is-at-least-32-chars",
    UMOS_RULES__SWEEP_INTERVAL_MS: "100",
  });
  const created = await Promise.all([
    stack.api.post("/api/v1/thing-models", {
      id: "dji-dock",
      definition: {
        properties: [
          { identifier: "mode_code", accessMode: "r", dataType: { type: "int" } },
          {
            identifier: "drone_charge_state",
            accessMode: "r",
            dataType: {
              type: "struct",
              specs: [
                { identifier: "state", dataType: { type: "int" } },
                { identifier: "capacity_percent", dataType: { type: "int", specs: { min: 0, max: 100 } } },
              ],
            },
          },
        ],
      },
    }),
  ]);
  expect(created.map((r) => r.status)).toEqual([201]);
  expect((await stack.api.post("/api/v1/devices", { id: DOCK, vendor: "dji", model: { id: "dji-dock" } })).status).toBe(201);
  const rule = await stack.api.post("/api/v1/rules", {
    id: "dock-charge",
    name: "Aircraft charge low",
    model: "dji-dock",
    definition: {
      levels: [{ severity: "major", when: { property: "drone_charge_state", path: "capacity_percent", op: "lt", value: 20 }, forMs: HOLD_MS }],
      clear: { when: { property: "drone_charge_state", path: "capacity_percent", op: "gt", value: 30 } },
    },
  });
  expect(rule.status).toBe(201);
  const triggers = ["alarm.raised", "alarm.cleared"];
  const channels = await Promise.all([
    stack.api.post("/api/v1/notification-channels", {
      name: "on-call webhook",
      kind: "webhook",
      webhook: { url: receiver.url, format: "json" },
      secret: WEBHOOK_SECRET,
      triggers,
    }),
    stack.api.post("/api/v1/notification-channels", {
      name: "on-call mail",
      kind: "email",
      email: { host: smtp.host, port: smtp.port, security: "starttls", user: smtp.user, from: "umos@example.com", to: ["ops@example.com"], ca: smtp.ca },
      secret: smtp.password,
      triggers,
    }),
  ]);
  expect(channels.map((r) => r.status)).toEqual([201, 201]);
  dock = await mqtt.connectAsync(stack.broker.url, { clientId: DOCK, protocolVersion: 5 });
}, 90_000);

afterAll(async () => {
  await dock?.endAsync();
  await stack?.dispose();
  await Promise.all([smtp?.stop(), receiver?.stop()]);
});

let last = 0;
/** The dock's osd as DJI documents it (topic-definition.md, trimmed to the modelled keys), each a later millisecond than the one before. */
function osd(capacity: number) {
  last = Math.max(Date.now(), last + 1);
  const payload = {
    tid: crypto.randomUUID(),
    bid: crypto.randomUUID(),
    timestamp: last,
    gateway: DOCK,
    data: { mode_code: 1, drone_charge_state: { state: 1, capacity_percent: capacity } },
  };
  return dock.publishAsync(`thing/product/${DOCK}/osd`, JSON.stringify(payload), { qos: 1 });
}

const alarms = async () => ((await stack.api.get(`/api/v1/alarms?device=${DOCK}`)).body as { items: Json[] }).items;
const webhookTriggers = () => receiver.calls.map((c) => (c.body as { trigger: string }).trigger);

test("a dock's falling charge raises an alarm after the rule's duration, mails and signed webhooks arrive, it does not flap, and it clears by hysteresis", async () => {
  const ws = await stack.dashboard({ kinds: ["alarm.raised", "alarm.updated", "alarm.cleared"] });
  await osd(60);
  const lowSince = Date.now();
  for (const capacity of [18, 17, 16]) await osd(capacity);
  // Still low, reported now and then, until past the duration.
  const raised = await eventually(
    async () => {
      await osd(15);
      const [alarm] = await alarms();
      return alarm;
    },
    HOLD_MS + 8000,
    "the alarm",
  );
  const raisedAfterMs = Date.now() - lowSince;
  expect(raised).toMatchObject({ severity: "major", status: "active", source: "rule:dock-charge", type: "Aircraft charge low" });
  expect(raisedAfterMs).toBeGreaterThanOrEqual(HOLD_MS);
  console.log(`alarms | raised ${raisedAfterMs} ms after the charge fell below the threshold (the rule holds for ${HOLD_MS} ms)`);

  const [mail] = await smtp.received(1, 10_000);
  expect(mail!.tls).toBe(true);
  expect(mail!.authenticated).toBe(true);
  expect(mail!.data).toContain("Aircraft charge low");
  expect(mail!.data).toContain(DOCK);
  await eventually(() => webhookTriggers().includes("alarm.raised"), 10_000, "the signed webhook");
  expect(receiver.refused).toBe(0);
  await eventually(() => ws.messages().some((m) => m.kind === "alarm.raised" && m.deviceId === DOCK), 5000, "alarm.raised on the WebSocket");

  // Around the threshold, below the clear condition: one alarm, still active, no clear sent.
  for (const capacity of [19, 21, 19, 22, 19, 25]) await osd(capacity);
  await Bun.sleep(1000);
  expect((await alarms()).map((a) => a.status)).toEqual(["active"]);
  expect(webhookTriggers()).toEqual(["alarm.raised"]);

  await osd(35);
  await eventually(async () => (await alarms())[0]?.status === "cleared", 10_000, "cleared");
  await eventually(() => webhookTriggers().includes("alarm.cleared"), 10_000, "the clear's webhook");
  await smtp.received(2, 10_000);
  await eventually(() => ws.messages().some((m) => m.kind === "alarm.cleared" && m.deviceId === DOCK), 5000, "alarm.cleared on the WebSocket");
  expect((await alarms()).length).toBe(1);
  ws.socket.close();
}, 60_000);
