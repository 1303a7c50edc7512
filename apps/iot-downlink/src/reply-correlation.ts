import type { Envelope } from "@umos/contracts";
import type { Logger } from "@umos/core";
import type { CommandRepository } from "@umos/store";
import type { Announce } from "./status-announcer";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A device's reply to a sent command: code 0 acks it with the device's output, any other code fails
 * it. A reply after the timeout, a duplicate or a stranger changes nothing: the command's state is
 * final once it left `sent`, and the message log still holds the reply. Only the command's device,
 * or the gateway it speaks through, can answer it: a reply from any other device that learned the
 * command id is a stranger's.
 *
 * A reply may also find its command still `queued`: the frame left in a send whose transaction did
 * not record `sent` (it failed after the publish, or has not committed yet and this update waits for
 * it). The answer proves the device got the command, so it is final from `queued` too; otherwise the
 * reply would be dropped and the command sent again, then time out.
 */
export function createReplyCorrelation(commands: CommandRepository, announce: Announce, log: Logger) {
  return async function correlate(envelope: Envelope): Promise<void> {
    const reply = envelope.data as { code: number; output: unknown };
    const commandId = envelope.correlationId ?? "";
    const acked = reply.code === 0;
    const detail = { output: reply.output, reason: acked ? undefined : `the device answered code ${reply.code}` };
    const updated = UUID.test(commandId)
      ? await commands.answer(commandId, envelope.deviceId, ["queued", "sent"], acked ? "acked" : "failed", detail)
      : undefined;
    if (!updated) {
      log.info("reply matches no command waiting for one", { deviceId: envelope.deviceId, correlationId: commandId });
      return;
    }
    // A device that does not echo trace context (DJI, Tuya) answers outside the trace: the
    // announcement joins the command's trace through the stored traceparent.
    await announce(updated);
  };
}
