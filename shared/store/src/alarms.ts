import { ConflictError, InvalidInputError, NotFoundError } from "@umos/core";
import type { Sql } from "./database";
import { queueAlarmEvent } from "./alarm-outbox";
import { type Alarm, type AlarmChange, type AlarmSeverity, type AlarmStatus, alarmColumns } from "./alarm-row";

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
