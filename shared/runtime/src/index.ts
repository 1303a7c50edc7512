export { readiness, healthResponse, serveHealth, type Readiness, type HealthServerOptions } from "./health";
export { resourceStack, runService, serviceApp, type Service, type App, type AppDeps, type ResourceStack } from "./lifecycle";
export { runMain, serviceDeps, type Compose } from "./entrypoint";
export { serviceLogger } from "./service-logger";
export { createHttpGuard, type HttpGuard } from "./http-guard";
export { commandLine } from "./command-line";
