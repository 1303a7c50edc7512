import { InvalidInputError } from "@umos/core";
import type { Synchronous } from "./store";

const PREFIX = "embedded:";

export function isEmbeddedUrl(url: string): boolean {
  return url.startsWith(PREFIX);
}

/**
 * `embedded:<path>[?synchronous=normal|full]`: the SQLite file of the embedded bus, relative to the
 * working directory unless absolute. `normal` (the default) keeps every confirm through a killed
 * process; `full` through a power cut too, at an fsync per commit (store.ts).
 */
export function parseEmbeddedUrl(url: string): { path: string; synchronous: Synchronous } {
  const [path = "", query = ""] = url.slice(PREFIX.length).split("?", 2);
  const synchronous = new URLSearchParams(query).get("synchronous") ?? "normal";
  if (path === "") throw new InvalidInputError("bad_bus_url", `bus.url ${url} names no file: use embedded:<path>, e.g. embedded:./data/bus.sqlite`);
  if (synchronous !== "full" && synchronous !== "normal")
    throw new InvalidInputError("bad_bus_url", `bus.url ${url}: synchronous must be normal or full, not ${synchronous}`);
  return { path, synchronous };
}
