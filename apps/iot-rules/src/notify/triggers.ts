import { type Static, type TSchema, Type as T } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { KINDS, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { summarize, type Notification, type NotifiedAlarm, type Trigger } from "@umos/notify";
import { SeveritySchema } from "@umos/rules";

const NullableString = T.Union([T.String(), T.Null()]);

/** The part of an alarm event the notification carries (docs/alarms.md, Events); other fields pass unread. */
const AlarmEventData = TypeCompiler.Compile(
  T.Object({
    change: T.String(),
    by: NullableString,
    alarm: T.Object({
      id: T.String(),
      type: T.String(),
      source: T.String(),
      severity: SeveritySchema,
      status: T.String(),
      acknowledged: T.Boolean(),
      acknowledgedBy: NullableString,
      assignee: NullableString,
      startedAt: T.String(),
      endedAt: NullableString,
      occurrences: T.Integer(),
      details: T.Record(T.String(), T.Unknown()),
    }),
  }),
);

const CommandStatusData = TypeCompiler.Compile(T.Object({ commandId: T.String(), status: T.String(), reason: NullableString }));

/** An alarm change that is worth a notification, and the trigger it is; other changes (downgraded, assigned, commented, occurred) are not. */
const ALARM_UPDATES: Readonly<Record<string, Trigger>> = { escalated: "alarm.escalated", acknowledged: "alarm.acknowledged" };
const COMMAND_OUTCOMES: Readonly<Record<string, Trigger>> = { failed: "command.failed", timeout: "command.timeout" };

/**
 * The notification an event on iot-notify-queue makes, or null for one that notifies nobody. An
 * alarm or command event whose data is not what UMOS publishes is refused (a dead letter with the field).
 */
export function notificationOf(envelope: Envelope): Notification | null {
  const base = { id: envelope.id, at: new Date(envelope.ts).toISOString(), vendor: envelope.vendor, deviceId: envelope.deviceId || null, by: null };
  switch (envelope.kind) {
    case KINDS.alarmRaised:
    case KINDS.alarmUpdated:
    case KINDS.alarmCleared: {
      const data = checked(AlarmEventData, envelope);
      const trigger =
        envelope.kind === KINDS.alarmRaised ? "alarm.raised" : envelope.kind === KINDS.alarmCleared ? "alarm.cleared" : ALARM_UPDATES[data.change];
      if (!trigger) return null;
      const a = data.alarm;
      const alarm: NotifiedAlarm = {
        id: a.id,
        type: a.type,
        source: a.source,
        severity: a.severity,
        status: a.status,
        acknowledged: a.acknowledged,
        acknowledgedBy: a.acknowledgedBy,
        assignee: a.assignee,
        startedAt: a.startedAt,
        endedAt: a.endedAt,
        occurrences: a.occurrences,
        details: a.details,
      };
      return complete({ ...base, trigger, by: data.by, alarm });
    }
    case KINDS.statusOffline:
      return complete({ ...base, trigger: "device.offline" });
    case KINDS.commandStatus: {
      const data = checked(CommandStatusData, envelope);
      const trigger = COMMAND_OUTCOMES[data.status];
      return trigger ? complete({ ...base, trigger, command: { id: data.commandId, status: data.status, reason: data.reason } }) : null;
    }
    default:
      return null;
  }
}

function complete(n: Omit<Notification, "summary">): Notification {
  return { ...n, summary: summarize(n) };
}

function checked<S extends TSchema>(checker: TypeCheck<S>, envelope: Envelope): Static<S> {
  if (checker.Check(envelope.data)) return envelope.data;
  const first = checker.Errors(envelope.data).First();
  throw new InvalidInputError("invalid_event", `${envelope.kind} ${envelope.id}: data${first?.path ?? ""}: ${first?.message ?? "invalid"}`);
}
