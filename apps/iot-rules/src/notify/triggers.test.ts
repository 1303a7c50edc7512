import { describe, expect, test } from "bun:test";
import { commandStatusEvent, KINDS, type Envelope } from "@umos/contracts";
import { alarmEvent, type AlarmChange } from "@umos/store";
import { testAlarm } from "../../test/fixtures/alarms";
import { notificationOf } from "./triggers";

/** The envelope as the notifier reads it off the bus: JSON, times as text. */
const wire = (envelope: Envelope): Envelope => JSON.parse(JSON.stringify(envelope));
const alarmChange = (change: AlarmChange, alarm = testAlarm(), by: string | null = null) => wire(alarmEvent(alarm, change, by).envelope);

describe("which events notify, as which trigger", () => {
  test("an alarm raised, escalated, acknowledged or cleared notifies; downgraded, assigned, commented or occurred do not", () => {
    const triggers = (["raised", "escalated", "acknowledged", "cleared", "downgraded", "assigned", "commented", "occurred"] as const).map(
      (change) => notificationOf(alarmChange(change))?.trigger ?? null,
    );
    expect(triggers).toEqual(["alarm.raised", "alarm.escalated", "alarm.acknowledged", "alarm.cleared", null, null, null, null]);
  });

  test("an alarm notification carries the alarm, who acted, and a summary", () => {
    const alarm = testAlarm({ severity: "critical", acknowledged: true, acknowledgedBy: "alice" });
    const event = alarmChange("acknowledged", alarm, "alice");
    expect(notificationOf(event)).toEqual({
      id: event.id,
      trigger: "alarm.acknowledged",
      at: new Date(event.ts).toISOString(),
      vendor: "generic",
      deviceId: "pump-7",
      by: "alice",
      summary: "critical alarm pressure.high on pump-7 acknowledged by alice",
      alarm: {
        id: alarm.id,
        type: "pressure.high",
        source: "rule:pressure",
        severity: "critical",
        status: "active",
        acknowledged: true,
        acknowledgedBy: "alice",
        assignee: null,
        startedAt: "2026-03-01T10:00:00.000Z",
        endedAt: null,
        occurrences: 1,
        details: { value: 9.5 },
      },
    });
  });

  test("a platform alarm concerns no device", () => {
    const n = notificationOf(alarmChange("raised", testAlarm({ deviceId: null, source: "platform.dead_letters", type: "platform.dead_letters" })));
    expect(n?.deviceId).toBeNull();
    expect(n?.summary).toBe("major alarm platform.dead_letters on the platform raised");
  });

  test("a device going offline, and a command that failed or timed out, notify; other command statuses do not", () => {
    const offline = wire({ id: "e-1", ts: 0, vendor: "tuya", deviceId: "t-1", kind: KINDS.statusOffline, data: {} });
    expect(notificationOf(offline)).toMatchObject({ trigger: "device.offline", deviceId: "t-1", summary: "device t-1 went offline" });
    const command = (status: "failed" | "timeout" | "acked", reason: string | null = null) =>
      notificationOf(wire(commandStatusEvent({ id: "c-1", deviceId: "d-1", vendor: "generic", status, output: null, reason }).envelope));
    expect(command("failed", "device said no")).toMatchObject({
      trigger: "command.failed",
      command: { id: "c-1", status: "failed", reason: "device said no" },
      summary: "command c-1 to d-1 failed: device said no",
    });
    expect(command("timeout")?.trigger).toBe("command.timeout");
    expect(command("acked")).toBeNull();
  });

  test("an alarm event without the alarm's fields is refused, naming the field", () => {
    const broken = { ...alarmChange("raised"), data: { change: "raised", by: null, alarm: { id: "a" } } };
    expect(() => notificationOf(broken)).toThrow(/alarm.raised .*: data\/alarm\/type/);
  });
});
