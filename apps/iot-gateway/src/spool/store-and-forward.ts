import type { Bus } from "@umos/bus";
import type { Logger } from "@umos/core";
import { publishFrame, type Frame, type FrameSink } from "../frame";
import type { Spool, SpooledFrame } from "./spool";

/**
 * Edge store and forward, a frame sink. While RabbitMQ is reachable and the spool empty, a frame
 * goes straight to RabbitMQ and is safe on its confirm; one RabbitMQ does not confirm is spooled in
 * its place. While RabbitMQ is out of reach a frame is safe once it is in the spool; when the link
 * returns the spool is forwarded in arrival order. While the spool holds anything every new frame
 * goes through it too, so order holds across the switch. When the spool is full, frames wait in
 * memory unacknowledged: at most Receive Maximum per MQTT connection, after which the broker stops
 * sending and holds the rest.
 */
export interface StoreAndForward extends FrameSink {
  /** Frames spooled and not yet forwarded. */
  size(): number;
  oldestAgeMs(): number;
  /** Spools what is held if it fits (its PUBACKs can still leave), stops forwarding, closes the file. */
  close(): Promise<void>;
}

export interface StoreAndForwardOptions {
  spool: Spool;
  bus: Bus;
  log: Logger;
  /** Frames published per forwarding round; their confirms are awaited together. */
  batchSize?: number;
  /** How often a disconnected link is checked, and the pause after a failed round. */
  retryMs?: number;
}

export function createStoreAndForward({ spool, bus, log, batchSize = 512, retryMs = 200 }: StoreAndForwardOptions): StoreAndForward {
  const held: Array<{ frame: SpooledFrame; ack: (() => void) | null }> = [];
  let engaged = false;
  // Direct publishes in flight: forwarding waits for them, so a failed one takes its place in order first.
  let direct = 0;
  let onIdle: (() => void) | null = null;
  let admitScheduled = false;
  let forwarding: Promise<void> = Promise.resolve();
  let running = false;
  let closed = false;
  let engagedAt = 0;
  let fullLogged = false;

  if (spool.size() > 0) engage(`${spool.size()} frames left in the spool from before the restart`);

  function engage(why: string): void {
    if (!engaged) {
      engaged = true;
      engagedAt = Date.now();
      log.warn("store and forward: spooling device frames until RabbitMQ takes them again", { why });
    }
    if (!running && !closed) {
      running = true;
      forwarding = forward();
    }
  }

  /** Moves held frames into the spool, as many as fit, in one transaction; then releases their PUBACKs. */
  function admit(): void {
    admitScheduled = false;
    let n = 0;
    let bytes = 0;
    while (n < held.length && (fits(n, bytes) || held[n]!.frame.seq < spool.nextSeq())) bytes += held[n++]!.frame.payload.byteLength;
    if (n < held.length && !fullLogged) {
      fullLogged = true;
      log.warn("spool full: device frames wait unacknowledged, the MQTT broker holds the rest", { spooled: spool.size(), bytes: spool.bytes() });
    }
    if (n === 0) return;
    const batch = held.splice(0, n);
    try {
      spool.append(batch.map((h) => h.frame));
    } catch (err) {
      held.unshift(...batch);
      log.error("could not write to the spool; frames stay unacknowledged", { err });
      return;
    }
    if (held.length === 0) fullLogged = false;
    for (const h of batch) h.ack?.();
  }

  // A frame numbered below one already on disk (a direct publish that failed) goes in whatever the
  // limits say: it belongs before frames the spool already holds. There are at most Receive Maximum.
  function fits(n: number, bytes: number): boolean {
    return spool.hasRoom(n + 1, bytes + held[n]!.frame.payload.byteLength);
  }

  async function forward(): Promise<void> {
    let failures = 0;
    while (!closed) {
      if (!bus.isConnected() || direct > 0) {
        await Bun.sleep(retryMs);
        continue;
      }
      if (held.length > 0) admit();
      const frames = spool.peek(batchSize);
      if (frames.length === 0) {
        if (held.length > 0) {
          await Bun.sleep(retryMs);
          continue;
        }
        engaged = false;
        running = false;
        log.info("store and forward: spool drained, frames go straight to RabbitMQ again", { afterMs: Date.now() - engagedAt });
        return;
      }
      const results = await Promise.allSettled(frames.map((frame) => publishFrame(bus, frame)));
      const failed = results.findIndex((r) => r.status === "rejected");
      const through = failed === -1 ? frames.length : failed;
      // Only an unbroken prefix leaves the spool: a frame after a failed one is sent again behind it,
      // so the first copy of every frame reaches RabbitMQ in order (the second carries the same message-id).
      if (through > 0) {
        spool.removeThrough(frames[through - 1]!.seq);
        admit();
      }
      if (failed !== -1) {
        if (failures++ === 0) log.warn("forwarding the spool failed; retrying", { err: (results[failed] as PromiseRejectedResult).reason });
        await Bun.sleep(retryMs);
      } else failures = 0;
    }
    running = false;
  }

  /** Spools a frame; `ack` runs once it is on disk. */
  function accept(frame: SpooledFrame, ack: (() => void) | null): void {
    held.push({ frame, ack });
    engage(bus.isConnected() ? "RabbitMQ did not confirm a frame" : "RabbitMQ unreachable");
    if (!admitScheduled) {
      admitScheduled = true;
      // Every frame of one socket read in one transaction: one fsync per batch, not per frame.
      queueMicrotask(admit);
    }
  }

  function directSettled(): void {
    direct--;
    if (direct === 0) onIdle?.();
  }

  return {
    put(frame: Frame) {
      if (engaged || !bus.isConnected()) return accept(frame, frame.safe);
      direct++;
      publishFrame(bus, frame).then(
        () => {
          frame.safe();
          directSettled();
        },
        () => {
          // Into the spool under its arrival number before forwarding may start, so order holds.
          accept(frame, frame.safe);
          directSettled();
        },
      );
    },
    get inFlight() {
      return direct;
    },
    drain() {
      return direct === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
    },
    nextSeq: () => spool.nextSeq(),
    size: () => spool.size(),
    oldestAgeMs: () => spool.oldestAgeMs(),
    async close() {
      if (held.length > 0) admit();
      closed = true;
      await forwarding;
      spool.close();
    },
  };
}
