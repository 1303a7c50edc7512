import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { RawFrame, VendorAdapter } from "./interface";

export interface Fixture {
  name: string;
  topic: string;
  source: string;
  payload: unknown;
}

/** The captured example frames of one vendor, one file per topic kind (`<vendor>/fixtures/*.json`). */
export function loadFixtures(vendor: string): Map<string, Fixture> {
  const dir = join(import.meta.dir, vendor, "fixtures");
  const out = new Map<string, Fixture>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const name = file.replace(/\.json$/, "");
    out.set(name, { name, ...(require(join(dir, file)) as Omit<Fixture, "name">) });
  }
  return out;
}

/** A fixture as the uplink would hand it to the adapter: routed by its topic, as the gateway does. */
export function rawFrame(adapter: VendorAdapter, fixture: Fixture, receivedAt = 1_700_000_000_000): RawFrame {
  const route = adapter.routeTopic(fixture.topic);
  if (!route) throw new Error(`fixture ${fixture.name}: topic ${fixture.topic} is not routed`);
  return {
    deviceId: route.deviceId,
    action: route.action,
    topic: fixture.topic,
    payload: Buffer.from(JSON.stringify(fixture.payload)),
    messageId: "01900000-0000-7000-8000-000000000001",
    receivedAt,
  };
}
