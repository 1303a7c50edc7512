import type { Logger } from "./logger";

/** What every service's createApp returns: started, it serves until stop() drains it. */
export interface Service {
  start(): Promise<void>;
  /** Stops taking new work and finishes what is in flight. */
  stop(): Promise<void>;
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
      log.error("shutdown budget exceeded; exiting with work in flight", { budgetMs: shutdownTimeoutMs });
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
