export { createLogger, silentLogger, type Logger, type LoggerOptions, type LogLevel, type LogFormat, type LogFields } from "./logger";
export { isPermanent, UmosError, InvalidInputError, NotFoundError, ConflictError, UnavailableError, UnauthorizedError, ForbiddenError } from "./errors";
export { backoffDelay } from "./backoff";
export type { Probe } from "./probe";
export { systemClock, type Clock } from "./clock";
export { every } from "./every";
export { createBatcher, type Batcher, type BatchOptions } from "./batcher";
