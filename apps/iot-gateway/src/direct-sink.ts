import type { Bus } from "@umos/bus";
import { HEADERS } from "@umos/contracts";
import { backoffDelay, type Logger } from "@umos/core";
import { publishFrame, type Frame, type FrameSink } from "./frame";

/** Backoff between tries of a frame RabbitMQ did not confirm. */
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * Frames straight to RabbitMQ: each is safe (its PUBACK may leave) once RabbitMQ confirmed it
 * (docs/design.md §3). One that is not confirmed is published again, same message-id, until it is;
 * its PUBACK waits in order meanwhile (the connection's ack order) and the broker holds the rest
 * (Receive Maximum). Dropping the MQTT connection instead made the broker resend the whole window
 * each time: a RabbitMQ restart turned 2,400 reports into ~21,000 frames (fault suite). Retrying
 * stops when the frame's connection is gone (the broker sends it again) or the gateway is stopping.
 */
export function createDirectSink(bus: Bus, log: Logger): FrameSink {
  let inFlight = 0;
  let retrying = 0;
  let draining = false;
  let onIdle: (() => void) | null = null;

  function settled(): void {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  }

  async function retryUntilConfirmed(frame: Frame, firstError: unknown): Promise<void> {
    if (retrying++ === 0)
      log.warn("RabbitMQ did not confirm device frames; publishing them again until it does", { topic: frame.headers[HEADERS.mqttTopic], err: firstError });
    try {
      for (let attempt = 1; !draining && frame.connection.connected; attempt++) {
        await Bun.sleep(backoffDelay(attempt, RETRY_INITIAL_MS, RETRY_MAX_MS));
        try {
          await publishFrame(bus, frame);
          frame.safe();
          return;
        } catch {
          // still unreachable: the bus waits for the connection on the next attempt
        }
      }
    } finally {
      if (--retrying === 0) log.info("RabbitMQ confirms device frames again");
    }
  }

  return {
    put(frame) {
      inFlight++;
      publishFrame(bus, frame).then(
        () => {
          frame.safe();
          settled();
        },
        (err: unknown) => void retryUntilConfirmed(frame, err).finally(settled),
      );
    },
    get inFlight() {
      return inFlight;
    },
    nextSeq: () => 0,
    drain() {
      draining = true;
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
    },
  };
}
