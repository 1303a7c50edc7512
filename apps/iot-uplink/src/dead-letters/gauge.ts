import type { Metrics } from "@umos/observability";
import type { Logger } from "@umos/core";
import type { DeadLetterRepository } from "@umos/store";

/** How often the gauge looks whether it is due. */
const TICK_MS = 1000;

/**
 * `iot_dead_letters{queue, code}`: dead letters waiting (archived, not replayed), counted in the
 * table: within a second of `stale()` (the archiver wrote rows), and every `intervalMs` anyway, so
 * replays and deletions made through iot-api show too.
 */
export function startDeadLetterGauge(metrics: Metrics, deadLetters: Pick<DeadLetterRepository, "countByQueue">, intervalMs: number, log: Logger) {
  const gauge = metrics.gauge("iot_dead_letters", "Dead letters archived and not replayed, by the queue they died in and their code", ["queue", "code"]);
  let stale = true;
  let last = 0;
  let running = false;
  const refresh = async () => {
    running = true;
    stale = false;
    last = Date.now();
    try {
      const counts = await deadLetters.countByQueue();
      gauge.reset();
      for (const { queue, code, count } of counts) gauge.set({ queue, code }, count);
    } catch (err) {
      log.warn("could not count dead letters", { err });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => {
    if (!running && (stale || Date.now() - last >= intervalMs)) void refresh();
  }, TICK_MS);
  return {
    stale: () => {
      stale = true;
    },
    stop: () => clearInterval(timer),
  };
}
