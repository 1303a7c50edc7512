import type { Vendor } from "@umos/contracts";
import { djiAdapter } from "./dji/adapter";
import { genericAdapter } from "./generic/adapter";
import { tuyaAdapter } from "./tuya/adapter";
import type { TopicRoute, VendorAdapter } from "./interface";

/** The adapter for a vendor: a fourth vendor is one folder and one case here. */
export function adapterFor(vendor: Vendor): VendorAdapter {
  switch (vendor) {
    case "generic":
      return genericAdapter;
    case "dji":
      return djiAdapter;
    case "tuya":
      return tuyaAdapter;
    default:
      return assertNever(vendor);
  }
}

/** Adapters the gateway subscribes for. */
export const activeAdapters: readonly VendorAdapter[] = [genericAdapter, djiAdapter, tuyaAdapter];

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
