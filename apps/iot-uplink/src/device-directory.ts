import type { Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import type { DeviceRepository } from "@umos/store";

/**
 * Which devices exist, cached so the hot path does not query per message. Known devices are kept
 * for `ttlMs`; unknown ones only briefly, so a device registered a moment ago is seen soon.
 */
export function createDeviceDirectory(devices: DeviceRepository, ttlMs = 30_000, unknownTtlMs = 2_000) {
  const cache = new Map<string, { vendor: Vendor | null; expires: number }>();
  const lookups = new Map<string, Promise<Vendor | null>>();

  async function vendorOf(deviceId: string): Promise<Vendor | null> {
    const hit = cache.get(deviceId);
    if (hit && hit.expires > Date.now()) return hit.vendor;
    let lookup = lookups.get(deviceId);
    if (!lookup) {
      lookup = devices
        .vendorsOf([deviceId])
        .then((found) => {
          const vendor = found.get(deviceId) ?? null;
          if (cache.size > 200_000) cache.clear();
          cache.set(deviceId, { vendor, expires: Date.now() + (vendor ? ttlMs : unknownTtlMs) });
          return vendor;
        })
        .finally(() => lookups.delete(deviceId));
      lookups.set(deviceId, lookup);
    }
    return lookup;
  }

  return {
    /** Throws a permanent error for a device that is not registered, or registered as another vendor. */
    async require(deviceId: string, vendor: Vendor): Promise<void> {
      const registered = await vendorOf(deviceId);
      if (registered === null) {
        throw new InvalidInputError("unknown_device", `device '${deviceId}' is not registered; register it with POST /api/v1/devices`);
      }
      if (registered !== vendor) {
        throw new InvalidInputError("vendor_mismatch", `device '${deviceId}' is registered as ${registered} but sent a ${vendor} frame`);
      }
    },
  };
}
