export { createLogger, silentLogger, type Logger, type LogLevel, type LogFormat, type LogFields } from "./logger";
export { UmosError, InvalidInputError, NotFoundError, ConflictError, UnavailableError } from "./errors";
export { readiness, healthResponse, type Probe, type Readiness } from "./health";
export { runService, type Service } from "./lifecycle";
export { backoffDelay } from "./backoff";
