import type { Logger } from "@umos/core";
import type { Command, CommandRepository } from "@umos/store";
import type { Announce } from "./status-announcer";

/**
 * The clock of the command lifecycle (docs/design.md §4): every `intervalMs` it times out sent commands
 * whose device did not answer, expires queued ones whose TTL passed, and sends queued commands of
 * devices that came online. State lives in PostgreSQL, so a restarted or second downlink carries on.
 */
export interface CommandSchedulerOptions {
  commands: CommandRepository;
  announce: Announce;
  send: (commandId: string) => Promise<void>;
  /** How often it looks (downlink.sweepIntervalMs). */
  intervalMs: number;
  log: Logger;
}

export function startCommandScheduler({ commands, announce, send, intervalMs, log }: CommandSchedulerOptions) {
  let running: Promise<void> = Promise.resolve();
  const publishAll = (moved: Command[]) => Promise.all(moved.map(announce));

  const tick = async () => {
    try {
      await publishAll(await commands.timeoutDue());
      await publishAll(await commands.expireDue());
      for (const id of await commands.queuedForOnlineDevices(100)) await send(id);
    } catch (err) {
      log.warn("command sweep failed; the next one retries", { err });
    }
  };
  const timer = setInterval(() => {
    running = running.then(tick);
  }, intervalMs);

  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
