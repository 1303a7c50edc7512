import { commandStatusEvent, type CommandState } from "@umos/contracts";
import { publishEnvelope } from "./envelope-publisher";
import type { Publisher } from "./types";

/** Publishes a command's new status so WebSocket clients see every transition live. */
export function publishStatus(publisher: Publisher, command: CommandState): Promise<void> {
  const { routingKey, envelope } = commandStatusEvent(command);
  return publishEnvelope(publisher, routingKey, envelope);
}
