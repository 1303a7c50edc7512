import { createLogger, type Logger, type LoggerOptions } from "@umos/core";
import { traceFields } from "@umos/observability";

/** A service's logger: its JSON lines carry the ids of the trace they were written in. */
export function serviceLogger(name: string, options: Omit<LoggerOptions, "context"> = {}): Logger {
  return createLogger(name, { ...options, context: traceFields });
}
