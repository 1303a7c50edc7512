import type { Vendor } from "@umos/contracts";

/** An MQTT message a simulated device sends. */
export interface Frame {
  topic: string;
  payload: string;
}

/**
 * How one kind of device speaks its vendor's protocol (docs/interfaces.md: Devices). Pure: it turns
 * its own state and the frames it receives into the frames it sends, so each vendor's replies test
 * without a broker; `device.ts` puts it on an MQTT connection. The one exception is work a command
 * starts that outlives its answer (`Answer.later`).
 */
export interface DeviceBehaviour {
  readonly vendor: Vendor;
  /** The device's id, which is also its MQTT client id and username. */
  readonly id: string;
  /** Cloud->device topics it subscribes to: commands, property sets and the answers it asked for. */
  readonly subscriptions: readonly string[];
  /** What the broker publishes for it when its connection dies (generic only; DJI and Tuya define none). */
  readonly will?: Frame;
  /** The frames that say it is here, sent on every (re)connect: a birth message, a topology. */
  announce(): Frame[];
  /** One property report of its current readings, which drift a little at each call. */
  report(): Frame[];
  /** One event of the kind this device raises. */
  event(): Frame[];
  /** The answer to a frame it received, and any report of changed properties that follows it. */
  receive(topic: string, payload: string): Frame[] | Answer;
}

/** A command's answer, sent at once, and the work it started that goes on after it. */
export interface Answer {
  frames: Frame[];
  /**
   * Frames the work sends as it goes, such as a firmware update's progress: started once `frames`
   * are sent, and the one place a behaviour waits on the world (a download), which is why it is apart.
   */
  later?: AsyncIterable<Frame>;
}

/** Either shape `receive` returns, as an `Answer`. */
export function answerOf(received: Frame[] | Answer): Answer {
  return Array.isArray(received) ? { frames: received } : received;
}

/** A service name that every simulated device refuses, to try the `failed` path of the command lifecycle. */
export const FAILING_SERVICE = "fail";

export function frame(topic: string, body: unknown): Frame {
  return { topic, payload: JSON.stringify(body) };
}

/** Parses a received frame's JSON; a device ignores what it cannot read, as a real one would. */
export function readJson(payload: string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(payload);
    return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
