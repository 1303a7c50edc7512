import type { Logger } from "./logger";

/** `run` every `intervalMs` (and at once, unless `now` is false), one run at a time; a failed run is logged and the next one tries again. */
export function every(name: string, intervalMs: number, run: () => Promise<unknown>, log: Logger, { now = true } = {}): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = running.then(async () => {
      try {
        await run();
      } catch (err) {
        log.warn(`${name} failed; the next run tries again`, { err });
      }
    });
  };
  const timer = setInterval(tick, intervalMs);
  if (now) tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
