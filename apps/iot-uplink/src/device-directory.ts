import type { Vendor } from "@umos/contracts";
import { InvalidInputError, type Clock } from "@umos/core";
import type { DeviceRepository, DeviceRoute } from "@umos/store";

/** How long a device found unregistered stays so, at most: one registered a moment ago is seen soon. */
const UNKNOWN_TTL_MS = 2_000;

/**
 * Which devices exist and which thing model each follows, cached so the hot path does not query per
 * message. Known devices are kept for `ttlMs` (a model change reaches the uplink within it);
 * unknown ones only briefly, so a device registered a moment ago is seen soon.
 */
export function createDeviceDirectory(devices: Pick<DeviceRepository, "routes">, { ttlMs, clock }: { ttlMs: number; clock: Clock }) {
  const unknownTtlMs = Math.min(UNKNOWN_TTL_MS, ttlMs);
  const cache = new Map<string, { route: DeviceRoute | null; expires: number }>();
  const lookups = new Map<string, Promise<DeviceRoute | null>>();

  function routeOf(deviceId: string): Promise<DeviceRoute | null> {
    const hit = cache.get(deviceId);
    if (hit && hit.expires > clock.now()) return Promise.resolve(hit.route);
    let lookup = lookups.get(deviceId);
    if (!lookup) {
      lookup = devices
        .routes([deviceId])
        .then((found) => {
          const route = found.get(deviceId) ?? null;
          if (cache.size > 200_000) cache.clear();
          cache.set(deviceId, { route, expires: clock.now() + (route ? ttlMs : unknownTtlMs) });
          return route;
        })
        .finally(() => lookups.delete(deviceId));
      lookups.set(deviceId, lookup);
    }
    return lookup;
  }

  /** The device's route; a permanent error for a device that is not registered, or registered as another vendor. */
  async function require(deviceId: string, vendor: Vendor): Promise<DeviceRoute> {
    const route = await routeOf(deviceId);
    if (route === null) {
      throw new InvalidInputError("unknown_device", `device '${deviceId}' is not registered; register it with POST /api/v1/devices`);
    }
    if (route.vendor !== vendor) {
      throw new InvalidInputError("vendor_mismatch", `device '${deviceId}' is registered as ${route.vendor} but sent a ${vendor} frame`);
    }
    return route;
  }

  return {
    /** The device's route, or null for a device not (or no longer) registered. */
    route: routeOf,
    require,
    /**
     * A device a gateway's frame speaks for (a Tuya gateway's batch_report): registered, of the
     * gateway's vendor, and the gateway's own sub-device (docs/design.md §8); anything else is a permanent error.
     */
    async requireSubDevice(deviceId: string, vendor: Vendor, gatewayId: string): Promise<DeviceRoute> {
      const route = await require(deviceId, vendor);
      if (route.parentId !== gatewayId) {
        throw new InvalidInputError(
          "foreign_sub_device",
          `gateway '${gatewayId}' sent a message for '${deviceId}', which is not its sub-device; an admin may move it (PATCH /api/v1/devices/:id parentId)`,
        );
      }
      return route;
    },
  };
}
