import { compileModel, type CompiledModel } from "./compile";
import type { Definition } from "./definition";

export interface ModelVersion {
  definition: unknown;
  validation: "strict" | "flag";
}

export interface CachedModel {
  model: CompiledModel;
  validation: "strict" | "flag";
  definition: Definition;
}

const LIMIT = 10_000;

/**
 * Compiled thing models by `id@version`. A version never changes once written, so an entry never
 * goes stale; the cache only bounds its size. Concurrent misses share one load.
 */
export function createModelCache(load: (id: string, version: number) => Promise<ModelVersion>) {
  const cache = new Map<string, Promise<CachedModel>>();
  return function compiled(id: string, version: number): Promise<CachedModel> {
    const ref = `${id}@${version}`;
    let entry = cache.get(ref);
    if (!entry) {
      entry = load(id, version).then(({ definition, validation }) => ({
        model: compileModel(definition as Definition, ref),
        validation,
        definition: definition as Definition,
      }));
      entry.catch(() => cache.delete(ref)); // a failed load is tried again next time
      if (cache.size >= LIMIT) cache.delete(cache.keys().next().value!);
      cache.set(ref, entry);
    }
    return entry;
  };
}

export type ModelCache = ReturnType<typeof createModelCache>;
