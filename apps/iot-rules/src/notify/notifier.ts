import { readEnvelope, type Bus } from "@umos/bus";
import type { RulesConfig } from "@umos/config";
import { QUEUES } from "@umos/contracts";
import { UmosError, type Logger } from "@umos/core";
import { channelTarget, secretBox, sendNotification, type Notification } from "@umos/notify";
import type { Observability } from "@umos/observability";
import { severityRank } from "@umos/rules";
import { notificationRepository, withOutagesAsUnavailable, type Database, type SealedChannel } from "@umos/store";
import { notificationOf } from "./triggers";

export interface NotifierParts {
  bus: Bus;
  db: Database;
  log: Logger;
  obs: Observability;
  config: RulesConfig;
}

/**
 * The notifier (docs/notifications.md): each event on iot-notify-queue becomes a notification for
 * every enabled channel it matches. Per channel a delivery row decides, under a per-channel lock:
 * already sent or suppressed (a redelivery, a replay): nothing; past the rate or within the dedupe
 * window: recorded as suppressed with the reason; else sent and recorded. A failed send fails the
 * event with a retryable error: the bus tries again with backoff, dead-letters it after
 * notifications.maxAttempts, and a replay sends only to the channels it did not reach.
 */
export async function startNotifier({ bus, db, log, obs, config }: NotifierParts): Promise<{ stop(): Promise<void> }> {
  const { timeoutMs, ratePerMinute, maxAttempts } = config.notifications;
  const channels = notificationRepository(db.sql);
  const box = secretBox(config.notifications.secretKey);
  const outcomes = obs.metrics.counter("iot_notifications_total", "Notifications by channel kind and outcome (sent, failed, suppressed, duplicate)", [
    "kind",
    "outcome",
  ]);
  // A claim left `sending` this long is a notifier's that died mid-send: no live send takes longer than its timeout.
  const staleMs = 2 * timeoutMs;

  /** Sends to one channel; resolves with the reason when it failed, so the other channels still get theirs. */
  async function deliver(channel: SealedChannel, n: Notification): Promise<string | undefined> {
    const claim = await channels.claim({
      eventId: n.id,
      channelId: channel.id,
      trigger: n.trigger,
      alarmId: n.alarm?.id ?? null,
      ratePerMinute: channel.ratePerMinute ?? ratePerMinute,
      dedupeWindowMs: channel.dedupeWindowMs,
      staleMs,
    });
    switch (claim.outcome) {
      case "done":
        outcomes.inc({ kind: channel.kind, outcome: "duplicate" });
        return undefined;
      case "suppressed":
        outcomes.inc({ kind: channel.kind, outcome: "suppressed" });
        log.info("notification suppressed", { channel: channel.id, event: n.id, reason: claim.reason });
        return undefined;
      case "busy":
        return `channel '${channel.name}' (${channel.id}): another notifier is sending this event now`;
      case "send":
        break;
    }
    const sent = await send(channel, n).then(
      (detail) => ({ ok: true as const, detail }),
      (err: unknown) => ({ ok: false as const, detail: err instanceof Error ? err.message : String(err) }),
    );
    await channels.settle(n.id, channel.id, sent.ok ? "sent" : "failed", sent.detail);
    outcomes.inc({ kind: channel.kind, outcome: sent.ok ? "sent" : "failed" });
    if (sent.ok) return undefined;
    log.warn("notification not delivered", { channel: channel.id, event: n.id, attempt: claim.attempt, reason: sent.detail });
    return `channel '${channel.name}' (${channel.id}): ${sent.detail}`;
  }

  async function send(channel: SealedChannel, n: Notification): Promise<string> {
    const target = channelTarget(channel.kind, channel.config, "config");
    return sendNotification(target, channel.secret ? box.open(channel.secret, channel.id) : null, n, timeoutMs);
  }

  // A database outage is waited out (the bus requeues without spending attempts); a send that failed is retried and counted.
  const consumer = await bus.consume(
    { queue: QUEUES.notify, maxAttempts },
    withOutagesAsUnavailable(async (message) => {
      const n = notificationOf(readEnvelope(message));
      if (!n) return;
      const matching = (await channels.forTrigger(n.trigger)).filter((channel) => matches(channel, n));
      const failures = (await Promise.all(matching.map((channel) => deliver(channel, n)))).filter((reason) => reason !== undefined);
      if (failures.length > 0) {
        throw new UmosError(
          "notification_failed",
          `${n.trigger} ${n.id} not delivered to ${failures.length} of ${matching.length} channels: ${failures.join("; ")}`,
          true,
        );
      }
    }),
  );
  return { stop: () => consumer.stop() };
}

/** Whether the channel wants this notification besides its trigger: the alarm's severity, and the device. */
function matches(channel: SealedChannel, n: Notification): boolean {
  if (channel.minSeverity && n.alarm && severityRank(n.alarm.severity) < severityRank(channel.minSeverity)) return false;
  if (channel.deviceIds && !(n.deviceId && channel.deviceIds.includes(n.deviceId))) return false;
  return true;
}
