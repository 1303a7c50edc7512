import { publishEnvelope, type Publisher } from "@umos/bus";
import { KINDS, routingKey, type Vendor } from "@umos/contracts";
import { every, type Clock, type Logger } from "@umos/core";
import type { DeviceRepository } from "@umos/store";

/** Why UMOS thinks a device's presence changed: other traffic, silence, or its gateway's topology report. */
export type PresenceCause = "traffic" | "silence" | "topology";

/** Where presence changes are announced, and the time they are stamped with. */
export interface PresenceOutlet {
  publisher: Publisher;
  clock: Clock;
}

export function publishPresence(
  { publisher, clock }: PresenceOutlet,
  deviceId: string,
  vendor: Vendor,
  state: "online" | "offline",
  cause: PresenceCause,
): Promise<void> {
  const kind = state === "online" ? KINDS.statusOnline : KINDS.statusOffline;
  return publishEnvelope(publisher, routingKey(vendor, "event", kind), {
    id: Bun.randomUUIDv7(),
    ts: clock.now(),
    vendor,
    deviceId,
    kind,
    data: { state, cause },
  });
}

/**
 * Devices that die without a last will (or behind a broker that sends none) go offline after
 * `silenceMs` without traffic: a sweep every `intervalMs` marks them and publishes status.offline.
 * The update is atomic, so replicas sweeping at once report each device once.
 */
export function startPresenceSweep(devices: DeviceRepository, outlet: PresenceOutlet, options: { silenceMs: number; intervalMs: number }, log: Logger) {
  const sweep = async () => {
    const silent = await devices.markSilentOffline(options.silenceMs);
    await Promise.all(silent.map((d) => publishPresence(outlet, d.id, d.vendor, "offline", "silence")));
    if (silent.length > 0) log.info("devices offline after silence", { count: silent.length, silenceMs: options.silenceMs });
  };
  return every("presence sweep", options.intervalMs, sweep, log, { now: false });
}
