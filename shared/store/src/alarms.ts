import { KINDS, routingKey, type Envelope, type Vendor } from "@umos/contracts";
import { ConflictError, InvalidInputError, NotFoundError } from "@umos/core";
import { json, type Sql } from "./database";

export type AlarmSeverity = "critical" | "major" | "minor" | "warning";
export type AlarmStatus = "active" | "cleared";
/** What happened to an alarm, as its events and notifications name it. */
export type AlarmChange = "raised" | "escalated" | "downgraded" | "occurred" | "acknowledged" | "assigned" | "commented" | "cleared";

export interface Alarm {
  id: string;
  /** null: a platform alarm (dead letters piling up). */
  deviceId: string | null;
  vendor: Vendor;
  /** `rule:<id>` or a built-in type (`dji.hms:<code>`, `platform.dead_letters`): one active alarm per device and source. */
  source: string;
  type: string;
  ruleId: string | null;
  ruleVersion: number | null;
  severity: AlarmSeverity;
  status: AlarmStatus;
  acknowledged: boolean;
  acknowledgedBy: string | null;
  acknowledgedAt: Date | null;
  assignee: string | null;
  startedAt: Date;
  lastSeenAt: Date;
  endedAt: Date | null;
  clearedBy: string | null;
  occurrences: number;
  details: Record<string, unknown>;
  updatedAt: Date;
}

export interface AlarmComment {
  seq: number;
  author: string;
  text: string;
  at: Date;
}

export interface AlarmFilter {
  deviceId?: string;
  severity?: AlarmSeverity[];
  status?: AlarmStatus;
  acknowledged?: boolean;
  source?: string;
  /** Started at or after / before. */
  from?: Date;
  to?: Date;
}

export interface AlarmPage {
  items: Alarm[];
  nextCursor: string | null;
}

export interface Rule {
  id: string;
  version: number;
  name: string;
  enabled: boolean;
  modelId: string | null;
  deviceIds: string[];
  definition: unknown;
  createdAt: Date;
  createdBy: string | null;
}

export interface RuleInput {
  name: string;
  enabled?: boolean;
  modelId?: string | null;
  deviceIds?: string[];
  definition: unknown;
  createdBy: string | null;
}

export interface RuleStatus {
  /** Devices the rule holds state for, when it last evaluated one, and the last error of any. */
  devices: number;
  evaluatedAt: Date | null;
  lastError: string | null;
  activeAlarms: number;
}

/** An alarm row as the Alarm type names its fields. */
export const alarmColumns = (sql: Sql) => sql`
  id, device_id as "deviceId", vendor, source, type, rule_id as "ruleId", rule_version as "ruleVersion", severity, status,
  acknowledged, acknowledged_by as "acknowledgedBy", acknowledged_at as "acknowledgedAt", assignee, started_at as "startedAt",
  last_seen_at as "lastSeenAt", ended_at as "endedAt", cleared_by as "clearedBy", occurrences, details, updated_at as "updatedAt"`;

const ruleColumns = (sql: Sql) => sql`
  id, version, name, enabled, model_id as "modelId", device_ids as "deviceIds", definition, created_at as "createdAt", created_by as "createdBy"`;

/** The event that announces an alarm's change: `iot.{vendor}.event.alarm.{raised|updated|cleared}` (docs/alarms.md). */
export function alarmEvent(alarm: Alarm, change: AlarmChange, by: string | null = null): { routingKey: string; envelope: Envelope } {
  const kind = change === "raised" ? KINDS.alarmRaised : change === "cleared" ? KINDS.alarmCleared : KINDS.alarmUpdated;
  return {
    routingKey: routingKey(alarm.vendor, "event", kind),
    envelope: {
      id: Bun.randomUUIDv7(),
      ts: Date.now(),
      vendor: alarm.vendor,
      // A platform alarm has no device: WebSocket clients take it with a filter on kinds, not devices.
      deviceId: alarm.deviceId ?? "",
      kind,
      data: { change, by, alarm },
    },
  };
}

/** Queues an alarm's event in the caller's transaction; flushAlarmOutbox publishes it after the commit. */
export async function queueAlarmEvent(sql: Sql, alarm: Alarm, change: AlarmChange, by: string | null = null): Promise<void> {
  const { routingKey: key, envelope } = alarmEvent(alarm, change, by);
  await sql`insert into alarm_outbox (routing_key, message_id, device_id, body) values (${key}, ${envelope.id}, ${envelope.deviceId}, ${json(sql, envelope)})`;
}

export type OutboxPublish = (
  routingKey: string,
  body: Uint8Array,
  options: { messageId: string; contentType: string; headers: Record<string, unknown> },
) => Promise<void>;

/**
 * Publishes queued alarm events in order, each removed only once the broker confirmed it. Flushers
 * take turns on the rows (a second waits for the first to commit, then takes what is left), so an
 * alarm's raise is never announced after its clear. A crash after a publish and before the commit
 * publishes it again: consumers see the same message id twice (the notifier sends once per id and
 * channel). Returns how many were published.
 */
export async function flushAlarmOutbox(sql: Sql, publish: OutboxPublish, deviceHeader: string, limit = 200): Promise<number> {
  return sql.begin(async (tx) => {
    const rows = await tx<{ id: string; routingKey: string; messageId: string; deviceId: string; body: unknown }[]>`
      select id, routing_key as "routingKey", message_id as "messageId", device_id as "deviceId", body
      from alarm_outbox order by id limit ${limit} for update`;
    for (const row of rows) {
      await publish(row.routingKey, Buffer.from(JSON.stringify(row.body)), {
        messageId: row.messageId,
        contentType: "application/json",
        headers: { [deviceHeader]: row.deviceId },
      });
    }
    if (rows.length) await tx`delete from alarm_outbox where id in ${tx(rows.map((r) => r.id))}`;
    return rows.length;
  });
}

export interface AlarmRepository {
  get(id: string): Promise<Alarm>;
  page(filter: AlarmFilter & { limit: number; cursor?: string }): Promise<AlarmPage>;
  /** Active alarms per severity, for the gauge and the console's badge. */
  countActive(): Promise<Record<AlarmSeverity, number>>;
  /** Active alarms nobody acknowledged yet. */
  countUnacknowledged(): Promise<number>;
  acknowledge(id: string, by: string): Promise<Alarm>;
  clear(id: string, by: string): Promise<Alarm>;
  assign(id: string, assignee: string | null, by: string): Promise<Alarm>;
  comment(id: string, author: string, text: string): Promise<AlarmComment>;
  comments(id: string): Promise<AlarmComment[]>;
}

/**
 * Alarms as people handle them (iot-api): every change is written with its event in one
 * transaction; the caller flushes the outbox after.
 */
export function alarmRepository(sql: Sql): AlarmRepository {
  const change = async (id: string, what: AlarmChange, by: string, update: (tx: Sql) => Promise<Alarm[]>) =>
    sql.begin(async (tx) => {
      const [alarm] = await update(tx as unknown as Sql);
      if (!alarm) {
        const [exists] = await tx`select status from alarms where id = ${id}`;
        if (!exists) throw new NotFoundError(`alarm '${id}' does not exist`);
        throw new ConflictError(`alarm '${id}' is ${exists.status}: it cannot be ${what} now`);
      }
      await queueAlarmEvent(tx as unknown as Sql, alarm, what, by);
      return alarm;
    });
  return {
    async get(id) {
      const [row] = await sql<Alarm[]>`select ${alarmColumns(sql)} from alarms where id = ${id}`;
      if (!row) throw new NotFoundError(`alarm '${id}' does not exist`);
      return row;
    },

    async page({ limit, cursor, ...f }) {
      const after = cursor ? decodeCursor(cursor) : null;
      const rows = await sql<Alarm[]>`
        select ${alarmColumns(sql)} from alarms
        where true
          ${f.deviceId !== undefined ? sql`and device_id = ${f.deviceId}` : sql``}
          ${f.severity?.length ? sql`and severity in ${sql(f.severity)}` : sql``}
          ${f.status ? sql`and status = ${f.status}` : sql``}
          ${f.acknowledged !== undefined ? sql`and acknowledged = ${f.acknowledged}` : sql``}
          ${f.source ? sql`and source = ${f.source}` : sql``}
          ${f.from ? sql`and started_at >= ${f.from}` : sql``}
          ${f.to ? sql`and started_at < ${f.to}` : sql``}
          ${after ? sql`and (started_at, id) < (${after.at}, ${after.id})` : sql``}
        order by started_at desc, id desc
        limit ${limit + 1}`;
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.startedAt, last.id) : null };
    },

    async countActive() {
      const rows = await sql<{ severity: AlarmSeverity; n: number }[]>`
        select severity, count(*)::int as n from alarms where status = 'active' group by severity`;
      const counts: Record<AlarmSeverity, number> = { critical: 0, major: 0, minor: 0, warning: 0 };
      for (const r of rows) counts[r.severity] = r.n;
      return counts;
    },

    async countUnacknowledged() {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from alarms where status = 'active' and not acknowledged`;
      return row!.n;
    },

    acknowledge: (id, by) =>
      change(
        id,
        "acknowledged",
        by,
        (tx) => tx<Alarm[]>`
          update alarms set acknowledged = true, acknowledged_by = ${by}, acknowledged_at = now(), updated_at = now()
          where id = ${id} and not acknowledged returning ${alarmColumns(tx)}`,
      ),

    clear: (id, by) =>
      change(
        id,
        "cleared",
        by,
        (tx) => tx<Alarm[]>`
          update alarms set status = 'cleared', ended_at = now(), cleared_by = ${by}, updated_at = now()
          where id = ${id} and status = 'active' returning ${alarmColumns(tx)}`,
      ),

    assign: (id, assignee, by) =>
      change(
        id,
        "assigned",
        by,
        (tx) => tx<Alarm[]>`update alarms set assignee = ${assignee}, updated_at = now() where id = ${id} returning ${alarmColumns(tx)}`,
      ),

    async comment(id, author, text) {
      return sql.begin(async (tx) => {
        const [alarm] = await tx<Alarm[]>`update alarms set updated_at = now() where id = ${id} returning ${alarmColumns(tx as unknown as Sql)}`;
        if (!alarm) throw new NotFoundError(`alarm '${id}' does not exist`);
        const [row] = await tx<AlarmComment[]>`
          insert into alarm_comments (alarm_id, author, text) values (${id}, ${author}, ${text}) returning seq::int, author, text, at`;
        await queueAlarmEvent(tx as unknown as Sql, alarm, "commented", author);
        return row!;
      });
    },

    async comments(id) {
      await this.get(id);
      return sql<AlarmComment[]>`select seq::int, author, text, at from alarm_comments where alarm_id = ${id} order by seq`;
    },
  };
}

export interface RuleRepository {
  create(id: string, input: RuleInput): Promise<Rule>;
  newVersion(id: string, input: RuleInput): Promise<Rule>;
  get(id: string, version?: number): Promise<Rule>;
  versions(id: string): Promise<Rule[]>;
  /** The latest version of every rule, with how it last went. */
  listLatest(): Promise<(Rule & { status: RuleStatus })[]>;
  /**
   * Every version and its state; its active alarms are cleared, their events queued in the same
   * transaction for the caller to flush (the alarms stay, as the record). `by`: who removed it.
   */
  remove(id: string, by: string | null): Promise<void>;
  /** The latest enabled version of every rule that applies to a device of this model (or to this device by name). */
  forDevice(deviceId: string, modelId: string | null): Promise<Rule[]>;
}

/** Rules as data, versioned like thing models: a change is a new version (docs/alarms.md). */
export function ruleRepository(sql: Sql): RuleRepository {
  const insert = async (id: string, version: number, input: RuleInput) => {
    const [row] = await sql<Rule[]>`
      insert into alarm_rules (id, version, name, enabled, model_id, device_ids, definition, created_by)
      values (${id}, ${version}, ${input.name}, ${input.enabled ?? true}, ${input.modelId ?? null}, ${input.deviceIds ?? []},
        ${json(sql, input.definition)}, ${input.createdBy})
      on conflict do nothing
      returning ${ruleColumns(sql)}`;
    return row;
  };
  return {
    async create(id, input) {
      const row = await insert(id, 1, input);
      if (!row) throw new ConflictError(`rule '${id}' already exists; PUT /api/v1/rules/${id} makes a new version`);
      return row;
    },

    async newVersion(id, input) {
      const [latest] = await sql<{ version: number }[]>`select max(version) as version from alarm_rules where id = ${id}`;
      if (!latest?.version) throw new NotFoundError(`rule '${id}' does not exist`);
      const row = await insert(id, latest.version + 1, input);
      if (!row) throw new ConflictError(`rule '${id}' was changed at the same time; try again`);
      return row;
    },

    async get(id, version) {
      const [row] = await sql<Rule[]>`
        select ${ruleColumns(sql)} from alarm_rules where id = ${id}
          ${version === undefined ? sql`` : sql`and version = ${version}`}
        order by version desc limit 1`;
      if (!row) throw new NotFoundError(version === undefined ? `rule '${id}' does not exist` : `rule '${id}' has no version ${version}`);
      return row;
    },

    async versions(id) {
      const rows = await sql<Rule[]>`select ${ruleColumns(sql)} from alarm_rules where id = ${id} order by version desc`;
      if (!rows.length) throw new NotFoundError(`rule '${id}' does not exist`);
      return rows;
    },

    async listLatest() {
      return sql<(Rule & { status: RuleStatus })[]>`
        select ${ruleColumns(sql)}, json_build_object(
          'devices', (select count(*) from alarm_rule_state s where s.rule_id = r.id),
          'evaluatedAt', (select max(evaluated_at) from alarm_rule_state s where s.rule_id = r.id),
          'lastError', (select last_error from alarm_rule_state s where s.rule_id = r.id and last_error is not null
                        order by evaluated_at desc nulls last limit 1),
          'activeAlarms', (select count(*) from alarms a where a.source = 'rule:' || r.id and a.status = 'active')
        ) as status
        from (select distinct on (id) * from alarm_rules order by id, version desc) r
        order by id`;
    },

    async remove(id, by) {
      await sql.begin(async (tx) => {
        const removed = await tx`delete from alarm_rules where id = ${id}`;
        if (removed.count === 0) throw new NotFoundError(`rule '${id}' does not exist`);
        // Locked in iot-rules' order (states by rule and device, then alarms by device and source), so a
        // batch evaluating this rule at the same time waits for the removal instead of deadlocking with it.
        await tx`select 1 from alarm_rule_state where rule_id = ${id} order by rule_id, device_id for update`;
        await tx`select 1 from alarms where source = ${`rule:${id}`} and status = 'active' order by device_id, source for update`;
        await tx`delete from alarm_rule_state where rule_id = ${id}`;
        const cleared = await tx<Alarm[]>`
          update alarms set status = 'cleared', ended_at = now(), cleared_by = ${`rule ${id} deleted`}, updated_at = now()
          where source = ${`rule:${id}`} and status = 'active' returning ${alarmColumns(tx as unknown as Sql)}`;
        for (const alarm of cleared) await queueAlarmEvent(tx as unknown as Sql, alarm, "cleared", by);
      });
    },

    async forDevice(deviceId, modelId) {
      return sql<Rule[]>`
        select * from (select distinct on (id) ${ruleColumns(sql)} from alarm_rules order by id, version desc) latest
        where enabled and ("modelId" = ${modelId} or ${deviceId} = any ("deviceIds"))`;
    },
  };
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 9999-12-31T23:59:59.999Z: the last instant an ISO 8601 text without an expanded year names. */
const LATEST_CURSOR_MS = 253_402_300_799_999;

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const date = new Date(at ?? "");
  // Checked here, or a doctored cursor reaches PostgreSQL as a uuid or a time it cannot read: a 500, not a 400.
  if (!id || !UUID.test(id) || !(date.getTime() >= 0 && date.getTime() <= LATEST_CURSOR_MS)) {
    throw new InvalidInputError("invalid_cursor", "cursor is not one this API gave out");
  }
  return { at: date, id };
}
