import type { Observability } from "@umos/observability";
import type { Clock, Logger } from "@umos/core";

/** What every service's createApp returns: started, it serves until stop() drains it. */
export interface Service {
  start(): Promise<void>;
  /** Stops taking new work and finishes what is in flight. */
  stop(): Promise<void>;
  /** While stop() runs: what it waits on now, named for the log when the budget runs out. */
  pending?(): string | undefined;
}

/**
 * The process half of a service: start it, and on SIGTERM/SIGINT stop it within a time budget.
 * Only main.ts files call this, so nothing else in the codebase owns signals.
 */
export async function runService(service: Service, log: Logger, shutdownTimeoutMs: number): Promise<void> {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal, budgetMs: shutdownTimeoutMs });
    const budget = setTimeout(() => {
      log.error("shutdown budget exceeded; exiting with work in flight", { budgetMs: shutdownTimeoutMs, waitingOn: service.pending?.() });
      process.exit(1);
    }, shutdownTimeoutMs);
    try {
      await service.stop();
      clearTimeout(budget);
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error("shutdown failed", { err });
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  try {
    await service.start();
  } catch (err) {
    log.error("start failed", { err });
    process.exit(1);
  }
}

/**
 * What every createApp receives besides the configuration; each service adds the parts it needs
 * (a bus, a database), opened and closed by the composition root: runMain, standalone, a test.
 */
export interface AppDeps {
  log: Logger;
  /** The service's tracer and metrics registry. */
  obs: Observability;
  /** The time of day the service acts on (expiry, windows, cache lifetimes). */
  clock: Clock;
}

/** A started service and the port it actually bound (config may ask for 0). */
export interface App extends Service {
  readonly port: number;
}

/**
 * Everything a service opened, closed in reverse order: the HTTP port first, then consumers
 * (draining in-flight work). The composition root keeps one too, for the parts it handed in.
 */
export function resourceStack(log: Logger) {
  const closers: Array<{ close: () => unknown; what: string | undefined }> = [];
  let closing: string | undefined;
  return {
    /** `what` names the resource in the warning its failed close logs, and while it is being closed. */
    use<T>(resource: T, close: (resource: T) => unknown, what?: string): T {
      closers.push({ close: () => close(resource), what });
      return resource;
    },
    async closeAll(): Promise<void> {
      while (closers.length > 0) {
        const { close, what } = closers.pop()!;
        closing = what ?? "an unnamed resource";
        try {
          await close();
        } catch (err) {
          log.warn(what ? `error while closing ${what}` : "error while closing", { err });
        }
      }
      closing = undefined;
    },
    /** What closeAll() is closing now. */
    closing: () => closing,
  };
}

export type ResourceStack = ReturnType<typeof resourceStack>;

/**
 * The shape every service shares: `start` opens what it needs through the resource stack and
 * returns the port it bound; stop closes all of it in reverse order.
 */
export function serviceApp(log: Logger, configuredPort: number, start: (resources: ResourceStack) => Promise<number>): App {
  const resources = resourceStack(log);
  let port = configuredPort;
  return {
    get port() {
      return port;
    },
    async start() {
      try {
        port = await start(resources);
      } catch (err) {
        await resources.closeAll(); // what opened before the failure must not hold the process open
        throw err;
      }
    },
    stop: () => resources.closeAll(),
    pending: () => resources.closing(),
  };
}
