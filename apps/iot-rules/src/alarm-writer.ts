import type { Action } from "@umos/rules";
import { type Alarm, type AlarmChange, alarmColumns, json, queueAlarmEvent, type Sql } from "@umos/store";

/** What an alarm is about: its identity, the part a change does not touch. */
export type Target = Pick<Alarm, "deviceId" | "vendor" | "source" | "type" | "ruleId" | "ruleVersion">;

export type ChangeCounter = (change: AlarmChange) => void;

/** One active alarm per device (null: the platform) and source. */
export const alarmKey = (deviceId: string | null, source: string) => `${deviceId ?? ""}\u0000${source}`;

/** The active alarms of these devices, locked (after the states: the same order everywhere). */
export async function lockActiveAlarms(tx: Sql, deviceIds: string[]): Promise<Map<string, Alarm>> {
  const rows = await tx<Alarm[]>`
    select ${alarmColumns(tx)} from alarms where status = 'active' and device_id = any (${[...new Set(deviceIds)].sort()}::text[])
    order by device_id, source for update`;
  return new Map(rows.map((a) => [alarmKey(a.deviceId, a.source), a]));
}

/**
 * Alarm changes within one transaction, against the locked active alarms. Occurrences are counted
 * in memory and written once per alarm (and announced once) when the batch ends or the alarm
 * changes otherwise: a report a second on an active alarm is not a write and an event a second.
 */
export function createAlarmWriter(tx: Sql, active: Map<string, Alarm>, counted: ChangeCounter) {
  const occurred = new Map<string, { alarm: Alarm; count: number; lastSeen: number; details: Record<string, unknown> }>();

  async function announce(alarm: Alarm, change: AlarmChange): Promise<void> {
    await queueAlarmEvent(tx, alarm, change);
    counted(change);
  }

  async function writeOccurrences(slot: string): Promise<void> {
    const pending = occurred.get(slot);
    if (!pending) return;
    occurred.delete(slot);
    const [alarm] = await tx<Alarm[]>`
      update alarms set occurrences = occurrences + ${pending.count}, last_seen_at = greatest(last_seen_at, ${new Date(pending.lastSeen)}),
        details = ${json(tx, pending.details)}, updated_at = now()
      where id = ${pending.alarm.id} returning ${alarmColumns(tx)}`;
    active.set(slot, alarm!);
    await announce(alarm!, "occurred");
  }

  return {
    active: (deviceId: string | null, source: string) => active.get(alarmKey(deviceId, source)) ?? null,
    activeSources: (deviceId: string) => [...active.values()].filter((a) => a.deviceId === deviceId).map((a) => a.source),

    async act(target: Target, action: Action, at: number): Promise<void> {
      const slot = alarmKey(target.deviceId, target.source);
      const current = active.get(slot) ?? null;
      if (action.type === "occur") {
        if (!current) return;
        const pending = occurred.get(slot) ?? { alarm: current, count: 0, lastSeen: at, details: action.details };
        occurred.set(slot, { ...pending, count: pending.count + 1, lastSeen: Math.max(pending.lastSeen, at), details: action.details });
        return;
      }
      await writeOccurrences(slot);
      const when = new Date(at);
      if (action.type === "raise") {
        const [alarm] = await tx<Alarm[]>`
          insert into alarms (id, device_id, vendor, source, type, rule_id, rule_version, severity, status, started_at, last_seen_at, details)
          values (${Bun.randomUUIDv7()}, ${target.deviceId}, ${target.vendor}, ${target.source}, ${target.type}, ${target.ruleId},
            ${target.ruleVersion}, ${action.severity}, 'active', ${when}, ${when}, ${json(tx, action.details)})
          returning ${alarmColumns(tx)}`;
        active.set(slot, alarm!);
        return announce(alarm!, "raised");
      }
      if (!current) return;
      if (action.type === "clear") {
        const [alarm] = await tx<Alarm[]>`
          update alarms set status = 'cleared', ended_at = ${when}, cleared_by = 'rule', updated_at = now(),
            details = details || ${json(tx, { cleared: action.details })}
          where id = ${current.id} returning ${alarmColumns(tx)}`;
        active.delete(slot);
        return announce(alarm!, "cleared");
      }
      const [alarm] = await tx<Alarm[]>`
        update alarms set severity = ${action.severity}, last_seen_at = greatest(last_seen_at, ${when}), occurrences = occurrences + 1,
          details = ${json(tx, action.details)}, updated_at = now()
        where id = ${current.id} returning ${alarmColumns(tx)}`;
      active.set(slot, alarm!);
      return announce(alarm!, action.type === "escalate" ? "escalated" : "downgraded");
    },

    async finish(): Promise<void> {
      for (const slot of [...occurred.keys()]) await writeOccurrences(slot);
    },
  };
}

export type AlarmWriter = ReturnType<typeof createAlarmWriter>;
