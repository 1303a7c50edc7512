import { trace } from "@opentelemetry/api";
import type { BusMessage } from "@umos/bus";
import { HEADERS, parseRoutingKey, WS_CLOSE } from "@umos/contracts";
import type { Logger } from "@umos/core";
import { messageFrame } from "./protocol";
import type { Subscriptions } from "./subscriptions";

/** The part of a WebSocket the fan-out needs (docs/design.md §11: narrow seams, not all of ServerWebSocket). */
export interface Client {
  send(frame: string): number;
  close(code: number, reason: string): void;
  bufferedAmount(): number;
  readonly subscriptions: Subscriptions;
}

/** Policy violation, the nearest standard code for "you read too slowly". */
export const SLOW_CONSUMER_CLOSE = WS_CLOSE.policy;

/**
 * Pushes each validated message to every client whose subscriptions take it. A client whose unsent
 * backlog passes `maxBufferedBytes` is disconnected with a reason instead of holding the others up.
 */
export function createFanout(maxBufferedBytes: number, log: Logger, onDevice: (deviceId: string) => void = () => {}) {
  const clients = new Set<Client>();
  let dropped = 0;
  let sent = 0;

  return {
    clients,
    get slowConsumersDropped() {
      return dropped;
    },
    get messagesSent() {
      return sent;
    },

    async deliver(message: BusMessage): Promise<void> {
      const deviceId = message.headers[HEADERS.deviceId];
      if (typeof deviceId === "string") onDevice(deviceId);
      if (clients.size === 0) return;
      const route = parseRoutingKey(message.routingKey);
      if (!route || typeof deviceId !== "string") return log.warn("ignoring an event without routing or device", { routingKey: message.routingKey });
      const delivery = { deviceId, vendor: route.vendor, kind: route.action };
      let frame: string | undefined;
      let recipients = 0;
      for (const client of clients) {
        if (!client.subscriptions.matches(delivery)) continue;
        frame ??= messageFrame(message.routingKey, message.body.toString("utf8"));
        client.send(frame);
        recipients++;
        if (client.bufferedAmount() > maxBufferedBytes) {
          clients.delete(client);
          dropped++;
          client.close(SLOW_CONSUMER_CLOSE, `slow consumer: more than ${maxBufferedBytes} bytes unread`);
        }
      }
      sent += recipients;
      trace.getActiveSpan()?.setAttribute("iot.ws.recipients", recipients);
    },
  };
}
