import { publishForGateway, type Publisher } from "@umos/bus";
import type { Tracer } from "@opentelemetry/api";
import { commandEnvelope } from "@umos/contracts";
import { continueTrace } from "@umos/observability";
import { isPermanent, type UmosError, type Logger } from "@umos/core";
import type { CommandRepository } from "@umos/store";
import type { ModelCache } from "@umos/thing-model";
import { adapterFor, type EncodedFrame } from "@umos/vendors";
import type { Announce } from "./status-announcer";

/**
 * Sends a stored command to its device if it can go now: queued, within its TTL, device online.
 * The frame is built from the stored command, so the REST call's message and the scheduler's
 * retry after the device comes online send the same thing. A command the vendor adapter cannot
 * encode fails at once with the adapter's reason.
 */
export interface CommandSenderOptions {
  publisher: Publisher;
  commands: CommandRepository;
  models: ModelCache;
  announce: Announce;
  tracer: Tracer;
  log: Logger;
}

export function createCommandSender({ publisher, commands, models, announce, tracer, log }: CommandSenderOptions) {
  return async function sendCommand(commandId: string): Promise<void> {
    let refused: UmosError | undefined;
    const sent = await commands.sendQueued(commandId, async (command, device) => {
      const definition = device.modelId === null ? null : (await models(device.modelId, device.modelVersion!)).definition;
      let frame: EncodedFrame;
      try {
        frame = adapterFor(command.vendor).encode(commandEnvelope(command), { definition, gatewayId: device.parentId });
      } catch (err) {
        if (!isPermanent(err)) throw err;
        refused = err;
        return;
      }
      const target = { vendor: command.vendor, action: command.kind, deviceId: command.deviceId };
      await continueTrace(tracer, "send command", command.traceparent, () => publishForGateway(publisher, target, frame));
    });
    if (refused) {
      const failed = await commands.transition(commandId, ["queued", "sent"], "failed", { reason: refused.message });
      if (failed) await announce(failed);
      log.warn("command cannot be encoded", { commandId, reason: refused.message });
      return;
    }
    if (sent) await announce(sent);
  };
}
