export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "pretty" | "json";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(name: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
  /** Fields every JSON line carries, read as it is written: the active trace's ids (@umos/runtime's serviceLogger). */
  context?: () => LogFields;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const min = rank[options.level ?? "info"];
  const format = options.format ?? "pretty";
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[level] < min) return;
    write(format === "json" ? json(name, level, msg, { ...options.context?.(), ...serializable(fields) }) : pretty(name, level, msg, fields));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (sub) => createLogger(`${name}:${sub}`, options),
  };
}

/** A logger that drops everything; for tests that assert on behaviour, not on logs. */
export const silentLogger: Logger = createLogger("silent", { write: () => {} });

/** One line per event, with its context (inside a span: the trace and span ids, so a log line leads to its trace). */
function json(name: string, level: LogLevel, msg: string, fields: LogFields): string {
  return JSON.stringify({ time: new Date().toISOString(), level, service: name.split(":")[0], name, msg, ...fields });
}

function pretty(name: string, level: LogLevel, msg: string, fields?: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const extra = fields
    ? Object.entries(serializable(fields))
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ")
    : "";
  return `${time} ${level.toUpperCase().padEnd(5)} [${name}] ${msg}${extra ? ` ${extra}` : ""}`;
}

function serializable(fields?: LogFields): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}
