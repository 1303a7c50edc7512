import { InvalidInputError, NotFoundError } from "@umos/core";
import type { AlarmSeverity } from "./alarm-row";
import { json, type Sql } from "./database";

export type ChannelKind = "webhook" | "email";
export type DeliveryStatus = "sending" | "sent" | "suppressed" | "failed";

/** A channel as it is shown: its secret only as whether one is set. */
export interface NotificationChannel {
  id: string;
  name: string;
  kind: ChannelKind;
  enabled: boolean;
  /** The kind's settings, without the secret (@umos/notify's WebhookConfig or EmailConfig). */
  config: Record<string, unknown>;
  secretSet: boolean;
  triggers: string[];
  /** Alarm triggers only: alarms below it are not notified; null: all. */
  minSeverity: AlarmSeverity | null;
  /** null: every device. */
  deviceIds: string[] | null;
  /** null: notifications.ratePerMinute. */
  ratePerMinute: number | null;
  /** 0: off. */
  dedupeWindowMs: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A channel as the notifier and the test send read it: with its sealed secret. */
export interface SealedChannel extends NotificationChannel {
  secret: string | null;
}

export type ChannelInput = Pick<
  NotificationChannel,
  "name" | "kind" | "enabled" | "config" | "triggers" | "minSeverity" | "deviceIds" | "ratePerMinute" | "dedupeWindowMs"
>;

export interface NotificationDelivery {
  eventId: string;
  trigger: string;
  alarmId: string | null;
  status: DeliveryStatus;
  attempts: number;
  detail: string | null;
  at: Date;
}

export interface NotificationDeliveryPage {
  items: NotificationDelivery[];
  nextCursor: string | null;
}

/** What the notifier asks before it sends an event to a channel. */
export interface ClaimRequest {
  eventId: string;
  channelId: string;
  trigger: string;
  alarmId: string | null;
  ratePerMinute: number;
  dedupeWindowMs: number;
  /** A `sending` claim older than this was left by a notifier that died: it is taken over. */
  staleMs: number;
}

/**
 * send: this notifier sends now (attempt n); done: already sent or suppressed, nothing to do;
 * suppressed: recorded as suppressed with the reason; busy: another notifier is sending it now.
 */
export type Claim =
  | { outcome: "send"; attempt: number }
  | { outcome: "done"; status: "sent" | "suppressed" }
  | { outcome: "suppressed"; reason: string }
  | { outcome: "busy" };

/** Claims of one channel take this advisory lock (namespace, hash of the id): one decision at a time per channel, across replicas. */
const CLAIM_LOCK_NAMESPACE = 19_004;

const channelColumns = (sql: Sql) => sql`
  id, name, kind, enabled, config, secret is not null as "secretSet", triggers, min_severity as "minSeverity", device_ids as "deviceIds",
  rate_per_minute as "ratePerMinute", dedupe_window_ms as "dedupeWindowMs", created_at as "createdAt", updated_at as "updatedAt"`;

const deliveryColumns = (sql: Sql) => sql`
  event_id as "eventId", trigger, alarm_id as "alarmId", status, attempts, detail, at`;

export interface NotificationRepository {
  /** `secret` sealed by the caller (it is bound to the id). */
  create(id: string, input: ChannelInput, secret: string | null): Promise<NotificationChannel>;
  /** Replaces the channel; `secret` undefined keeps the one set, null removes it. */
  update(id: string, input: ChannelInput, secret: string | null | undefined): Promise<NotificationChannel>;
  get(id: string): Promise<NotificationChannel>;
  sealed(id: string): Promise<SealedChannel>;
  list(): Promise<NotificationChannel[]>;
  /** The channel and its delivery records. */
  remove(id: string): Promise<void>;
  /** Enabled channels with this trigger, for the notifier to filter further. */
  forTrigger(trigger: string): Promise<SealedChannel[]>;
  claim(request: ClaimRequest): Promise<Claim>;
  /** The outcome of a claimed send. */
  settle(eventId: string, channelId: string, status: "sent" | "failed", detail: string): Promise<void>;
  /** Newest first; pass nextCursor as `before`. */
  deliveries(channelId: string, page: { limit: number; before?: string }): Promise<NotificationDeliveryPage>;
}

/** Notification channels and their deliveries (docs/notifications.md). */
export function notificationRepository(sql: Sql): NotificationRepository {
  const missing = (id: string) => new NotFoundError(`notification channel '${id}' does not exist`);
  const get = async (id: string) => {
    const [row] = await sql<NotificationChannel[]>`select ${channelColumns(sql)} from notification_channels where id = ${id}`;
    if (!row) throw missing(id);
    return row;
  };
  return {
    async create(id, input, secret) {
      const [row] = await sql<NotificationChannel[]>`
        insert into notification_channels (id, name, kind, enabled, config, secret, triggers, min_severity, device_ids, rate_per_minute, dedupe_window_ms)
        values (${id}, ${input.name}, ${input.kind}, ${input.enabled}, ${json(sql, input.config)}, ${secret}, ${input.triggers},
          ${input.minSeverity}, ${input.deviceIds}, ${input.ratePerMinute}, ${input.dedupeWindowMs})
        returning ${channelColumns(sql)}`;
      return row!;
    },

    async update(id, input, secret) {
      const [row] = await sql<NotificationChannel[]>`
        update notification_channels set name = ${input.name}, kind = ${input.kind}, enabled = ${input.enabled}, config = ${json(sql, input.config)},
          ${secret === undefined ? sql`` : sql`secret = ${secret},`}
          triggers = ${input.triggers}, min_severity = ${input.minSeverity}, device_ids = ${input.deviceIds},
          rate_per_minute = ${input.ratePerMinute}, dedupe_window_ms = ${input.dedupeWindowMs}, updated_at = now()
        where id = ${id} returning ${channelColumns(sql)}`;
      if (!row) throw missing(id);
      return row;
    },

    get,

    async sealed(id) {
      const [row] = await sql<SealedChannel[]>`select ${channelColumns(sql)}, secret from notification_channels where id = ${id}`;
      if (!row) throw missing(id);
      return row;
    },

    async list() {
      return sql<NotificationChannel[]>`select ${channelColumns(sql)} from notification_channels order by name, id`;
    },

    async remove(id) {
      const result = await sql`delete from notification_channels where id = ${id}`;
      if (result.count === 0) throw missing(id);
    },

    async forTrigger(trigger) {
      return sql<SealedChannel[]>`
        select ${channelColumns(sql)}, secret from notification_channels where enabled and ${trigger} = any (triggers) order by id`;
    },

    async claim(r) {
      return sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${CLAIM_LOCK_NAMESPACE}, hashtext(${r.channelId}))`;
        const [current] = await tx<{ status: DeliveryStatus; fresh: boolean }[]>`
          select status, at > now() - make_interval(secs => ${r.staleMs / 1000}) as fresh
          from notification_deliveries where event_id = ${r.eventId} and channel_id = ${r.channelId}`;
        if (current?.status === "sent" || current?.status === "suppressed") return { outcome: "done", status: current.status } as const;
        if (current?.status === "sending" && current.fresh) return { outcome: "busy" } as const;
        const reason = await suppression(tx as unknown as Sql, r);
        const [row] = await tx<{ attempts: number }[]>`
          insert into notification_deliveries (event_id, channel_id, trigger, alarm_id, status, attempts, detail)
          values (${r.eventId}, ${r.channelId}, ${r.trigger}, ${r.alarmId}, ${reason ? "suppressed" : "sending"}, ${reason ? 0 : 1}, ${reason})
          on conflict (event_id, channel_id) do update set status = excluded.status, detail = excluded.detail, at = now(),
            attempts = notification_deliveries.attempts + excluded.attempts
          returning attempts`;
        return reason ? ({ outcome: "suppressed", reason } as const) : ({ outcome: "send", attempt: row!.attempts } as const);
      });
    },

    async settle(eventId, channelId, status, detail) {
      await sql`update notification_deliveries set status = ${status}, detail = ${detail}, at = now()
        where event_id = ${eventId} and channel_id = ${channelId}`;
    },

    async deliveries(channelId, { limit, before }) {
      if (before !== undefined && !/^[0-9]{1,18}$/.test(before)) throw new InvalidInputError("invalid_cursor", "before: not a cursor this API gave out");
      await get(channelId);
      const rows = await sql<(NotificationDelivery & { seq: bigint })[]>`
        select ${deliveryColumns(sql)}, seq from notification_deliveries
        where channel_id = ${channelId} ${before ? sql`and seq < ${before}` : sql``}
        order by seq desc limit ${limit + 1}`;
      const items = rows.slice(0, limit);
      return {
        items: items.map(({ seq: _, ...delivery }) => delivery),
        nextCursor: rows.length > limit ? String(items.at(-1)!.seq) : null,
      };
    },
  };
}

/**
 * Why the event is not sent to the channel, or null: the same alarm's same trigger was sent within
 * the dedupe window, or the channel had its rate of sends in the last minute. Sends in progress
 * count too, so two replicas cannot both take the last slot.
 */
async function suppression(tx: Sql, r: ClaimRequest): Promise<string | null> {
  if (r.alarmId && r.dedupeWindowMs > 0) {
    const [earlier] = await tx<{ eventId: string; at: Date }[]>`
      select event_id as "eventId", at from notification_deliveries
      where channel_id = ${r.channelId} and alarm_id = ${r.alarmId} and trigger = ${r.trigger} and event_id <> ${r.eventId}
        and status in ('sent', 'sending') and at > now() - make_interval(secs => ${r.dedupeWindowMs / 1000})
      order by at desc limit 1`;
    if (earlier) {
      return `duplicate: ${r.trigger} of alarm ${r.alarmId} was sent at ${earlier.at.toISOString()} (event ${earlier.eventId}), within the channel's dedupe window of ${r.dedupeWindowMs} ms`;
    }
  }
  const [recent] = await tx<{ n: number }[]>`
    select count(*)::int as n from notification_deliveries
    where channel_id = ${r.channelId} and event_id <> ${r.eventId} and status in ('sent', 'sending') and at > now() - interval '1 minute'`;
  if (recent!.n >= r.ratePerMinute) return `rate limit: the channel sent ${recent!.n} notifications in the last minute, its limit is ${r.ratePerMinute}`;
  return null;
}
