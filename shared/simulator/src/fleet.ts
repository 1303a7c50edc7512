import type { DeviceBehaviour } from "./behaviour";
import { connectDevice, type ConnectOptions, type SimulatedDevice } from "./device";
import { djiDock } from "./dji";
import { genericDevice } from "./generic";
import type { Vendor } from "@umos/contracts";
import { registerDevice } from "./register";
import { tuyaPlug } from "./tuya";

/** How many devices of each vendor; ids are `<prefix><vendor>-<n>` (a DJI dock's aircraft: `<dock>-aircraft`). */
export type FleetSize = Partial<Record<Vendor, number>>;

export function behaviours(size: FleetSize, prefix: string, clock: () => number = Date.now): DeviceBehaviour[] {
  const make = { generic: genericDevice, dji: djiDock, tuya: tuyaPlug } as const;
  const names = { generic: "generic", dji: "dock", tuya: "tuya" } as const;
  return (Object.keys(make) as Vendor[]).flatMap((vendor) =>
    Array.from({ length: size[vendor] ?? 0 }, (_, i) => make[vendor](`${prefix}${names[vendor]}-${i}`, clock)),
  );
}

/** The clock a fleet's devices stamp their frames with: now, or where a history being sent stands. */
export function fleetClock() {
  let at: number | null = null;
  return {
    now: () => at ?? Date.now(),
    set(ms: number | null) {
      at = ms;
    },
  };
}

/**
 * Reports of the past `minutes`, one per device every `everyMs`, stamped with their own times, as a
 * device that kept readings while offline sends them: a new installation has history to show at once.
 */
export async function reportHistory(
  devices: readonly SimulatedDevice[],
  clock: ReturnType<typeof fleetClock>,
  minutes: number,
  everyMs: number,
): Promise<number> {
  const end = Date.now();
  let sent = 0;
  try {
    for (let t = end - minutes * 60_000; t < end; t += everyMs) {
      clock.set(t);
      for (const device of devices) {
        if (!device.connected) continue;
        device.report();
        sent++;
      }
      // A round at a time, so the broker's window of QoS 1 messages in flight never fills at once.
      await Bun.sleep(1);
    }
  } finally {
    clock.set(null);
  }
  return sent;
}

export interface FleetOptions extends Omit<ConnectOptions, "password"> {
  /** Registers each device through the REST API first and connects with the password it gets. */
  register?: { apiUrl: string; token: string };
}

/** Registers (optionally), connects, subscribes and announces every device; fails whole if one cannot. */
export async function startFleet(devices: readonly DeviceBehaviour[], options: FleetOptions): Promise<SimulatedDevice[]> {
  const started: SimulatedDevice[] = [];
  const ordered: SimulatedDevice[] = [];
  try {
    // A few at a time, so a large fleet does not fill the API's request queue.
    for (let i = 0; i < devices.length; i += 8) {
      await Promise.all(
        devices.slice(i, i + 8).map(async (behaviour, j) => {
          const password = options.register ? await registerDevice(options.register.apiUrl, options.register.token, behaviour) : undefined;
          const device = await connectDevice(behaviour, { ...options, password });
          started.push(device);
          ordered[i + j] = device;
          await device.listen();
          await device.announce();
        }),
      );
    }
    return ordered;
  } catch (err) {
    await Promise.all(started.map((d) => d.close().catch(() => {})));
    throw err;
  }
}

export interface RunOptions {
  /** Property reports per second per device. */
  rate: number;
  /** Mean seconds between two events of one device; 0 for none. */
  eventEverySec: number;
  /** Mean seconds between two outages of one device; 0 for none. */
  offlineEverySec: number;
  /** How long an outage lasts. */
  offlineForSec: number;
  random?: () => number;
  onOutage?: (device: SimulatedDevice, phase: "down" | "up") => void;
}

/**
 * Drives a started fleet until `stop()`: reports spread evenly over time at `rate` per device, events
 * and outages at random with the given means (a Poisson process per device, checked every tick).
 */
export function runFleet(devices: readonly SimulatedDevice[], options: RunOptions) {
  const random = options.random ?? Math.random;
  const tickMs = 20;
  const started = performance.now();
  const down = new Set<SimulatedDevice>();
  let sent = 0;
  let next = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * options.rate * devices.length);
    // Round robin over the devices that are up; a device that is down skips its turn.
    for (; sent < due; sent++, next = (next + 1) % devices.length) {
      const device = devices[next]!;
      if (!down.has(device) && device.connected) device.report();
    }
    const chance = (everySec: number) => everySec > 0 && random() < tickMs / 1000 / everySec;
    for (const device of devices) {
      if (down.has(device)) continue;
      if (chance(options.eventEverySec) && device.connected) device.event();
      if (chance(options.offlineEverySec)) void outage(device);
    }
  }, tickMs);

  const outage = async (device: SimulatedDevice) => {
    down.add(device);
    options.onOutage?.(device, "down");
    await device.drop();
    // Back after the outage, or as soon as the broker takes it again.
    for (;;) {
      await Bun.sleep(options.offlineForSec * 1000);
      if (stopped) return;
      if (
        await device.restore().then(
          () => true,
          () => false,
        )
      )
        break;
    }
    down.delete(device);
    options.onOutage?.(device, "up");
  };
  let stopped = false;
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
