import type { Tracer } from "@opentelemetry/api";
import { publishStatus, type Publisher } from "@umos/bus";
import { continueTrace, type Metrics } from "@umos/observability";
import type { Command } from "@umos/store";

export type Announce = (command: Command) => Promise<void>;

/**
 * Every transition this replica makes, told to WebSocket clients (in the command's trace, even when
 * the cause was a timer or an untraced reply) and counted: by status, and for answered commands the
 * round trip from sent to the device's answer.
 */
export function createStatusAnnouncer(publisher: Publisher, tracer: Tracer, metrics: Metrics): Announce {
  const byStatus = metrics.counter("iot_downlink_commands_total", "Commands this replica moved into a status", ["status"]);
  const roundTrip = metrics.histogram(
    "iot_downlink_command_round_trip_seconds",
    "From a command sent to the device's answer (acked or failed)",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  return async (command) => {
    byStatus.inc({ status: command.status });
    if ((command.status === "acked" || command.status === "failed") && command.sentAt) {
      roundTrip.observe((command.updatedAt.getTime() - command.sentAt.getTime()) / 1000);
    }
    await continueTrace(tracer, "command status", command.traceparent, () => publishStatus(publisher, command));
  };
}
