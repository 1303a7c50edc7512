import type { BusMessage, Publisher } from "@umos/bus";
import type { Envelope } from "@umos/contracts";
import type { Logger } from "@umos/runtime";
import type { CommandRepository } from "@umos/store";
import { publishCommandStatus } from "./status-events";

/** A device's reply: code 0 acks the command with the device's output, any other code fails it. */
export function createReplyCorrelation(publisher: Publisher, commands: CommandRepository, log: Logger) {
  return async function correlate(envelope: Envelope, _message: BusMessage): Promise<void> {
    const reply = envelope.data as { code: number; output: unknown };
    const commandId = envelope.correlationId ?? "";
    const status = reply.code === 0 ? "acked" : "failed";
    const detail = { output: reply.output, reason: reply.code === 0 ? undefined : `device answered code ${reply.code}` };
    const updated = /^[0-9a-f-]{36}$/i.test(commandId) ? await commands.transition(commandId, ["queued", "sent"], status, detail) : undefined;
    if (!updated) {
      // A late, duplicate or foreign reply: nothing waits for it; the message log still holds it.
      log.info("reply matches no open command", { deviceId: envelope.deviceId, correlationId: commandId });
      return;
    }
    await publishCommandStatus(publisher, updated);
  };
}
