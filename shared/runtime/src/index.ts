export { createLogger, silentLogger, type Logger, type LogLevel, type LogFormat, type LogFields } from "./logger";
export { isPermanent, UmosError, InvalidInputError, NotFoundError, ConflictError, UnavailableError, UnauthorizedError, ForbiddenError } from "./errors";
export { readiness, healthResponse, serveHealth, type Probe, type Readiness, type HealthServerOptions } from "./health";
export { resourceStack, runService, serviceApp, type Service, type App, type AppDeps, type ResourceStack } from "./lifecycle";
export { backoffDelay } from "./backoff";
export { runMain, serviceDeps } from "./entrypoint";
export { createHttpGuard, type HttpGuard } from "./http-guard";
