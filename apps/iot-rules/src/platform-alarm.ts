import type { Clock } from "@umos/core";
import { type Severity, severityRank } from "@umos/rules";
import { type Alarm, alarmColumns, type Sql } from "@umos/store";
import { alarmKey, type ChangeCounter, createAlarmWriter } from "./alarm-writer";

/** The platform alarm's source: one for the whole installation. */
export const PLATFORM_DEAD_LETTERS = "platform.dead_letters";

/**
 * The platform alarm `platform.dead_letters`: dead letters waiting (archived, not replayed) at or past
 * `threshold` raise it as major, ten times that as critical; it clears once fewer than half the
 * threshold wait, so a backlog hovering at the threshold does not flap.
 */
export async function checkDeadLetters(sql: Sql, clock: Clock, threshold: number, counted: ChangeCounter): Promise<void> {
  const [row] = await sql<{ waiting: number }[]>`select count(*)::int as waiting from dead_letters where replayed_at is null`;
  const waiting = row?.waiting ?? 0;
  await sql.begin(async (begun) => {
    const tx = begun as unknown as Sql;
    const [locked] = await tx<Alarm[]>`
      select ${alarmColumns(tx)} from alarms where device_id is null and source = ${PLATFORM_DEAD_LETTERS} and status = 'active' for update`;
    const writer = createAlarmWriter(tx, new Map(locked ? [[alarmKey(null, PLATFORM_DEAD_LETTERS), locked]] : []), counted);
    const active = writer.active(null, PLATFORM_DEAD_LETTERS);
    // Between half the threshold and the threshold an alarm that is up stays up, as major.
    const severity: Severity | null = waiting >= threshold * 10 ? "critical" : waiting >= threshold || (active && waiting >= threshold / 2) ? "major" : null;
    const details = { at: clock.now(), waiting, threshold };
    const target = {
      deviceId: null,
      vendor: "generic" as const,
      source: PLATFORM_DEAD_LETTERS,
      type: "Dead letters piling up",
      ruleId: null,
      ruleVersion: null,
    };
    if (severity && (!active || active.severity !== severity)) {
      const type = !active ? "raise" : severityRank(severity) > severityRank(active.severity) ? "escalate" : "downgrade";
      await writer.act(target, { type, severity, details }, clock.now());
    } else if (!severity && active) await writer.act(target, { type: "clear", details }, clock.now());
  });
}
