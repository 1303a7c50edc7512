import type { Vendor } from "@umos/contracts";
import { InvalidInputError } from "@umos/runtime";
import { genericAdapter } from "./generic/adapter";
import type { TopicRoute, VendorAdapter } from "./interface";

/** The adapter for a vendor; DJI and Tuya arrive with their own folders. */
export function adapterFor(vendor: Vendor): VendorAdapter {
  switch (vendor) {
    case "generic":
      return genericAdapter;
    case "dji":
    case "tuya":
      throw new InvalidInputError("vendor_not_supported", `the ${vendor} adapter is not available yet`);
    default:
      return assertNever(vendor);
  }
}

/** Adapters the gateway subscribes for. */
export const activeAdapters: readonly VendorAdapter[] = [genericAdapter];

/** Which vendor and device a topic belongs to, or undefined for a topic UMOS does not take. */
export function routeTopic(topic: string): TopicRoute | undefined {
  for (const adapter of activeAdapters) {
    const route = adapter.routeTopic(topic);
    if (route) return route;
  }
  return undefined;
}

function assertNever(value: never): never {
  throw new Error(`unknown vendor ${String(value)}`);
}
