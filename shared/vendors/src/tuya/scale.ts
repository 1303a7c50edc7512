import type { Definition } from "@umos/thing-model";

/**
 * Tuya sends a scaled integer for a value with `scale`: wire value = real x 10^scale
 * (https://developer.tuya.com/en/docs/iot/datatypedescription). The scale lives in the property's
 * specs of the device's thing model; properties without one pass unchanged.
 */
export function scales(definition: Definition | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of definition?.properties ?? []) {
    const scale = Number((p.dataType.specs as { scale?: unknown } | undefined)?.scale ?? 0);
    if (Number.isInteger(scale) && scale > 0) out.set(p.identifier, scale);
  }
  return out;
}

export function toReal(properties: Record<string, unknown>, definition: Definition | null): Record<string, unknown> {
  return rescale(properties, scales(definition), (value, scale) => value / 10 ** scale);
}

export function toWire(properties: Record<string, unknown>, definition: Definition | null): Record<string, unknown> {
  return rescale(properties, scales(definition), (value, scale) => Math.round(value * 10 ** scale));
}

function rescale(properties: Record<string, unknown>, byProperty: Map<string, number>, convert: (value: number, scale: number) => number) {
  if (byProperty.size === 0) return properties;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    const scale = byProperty.get(key);
    out[key] = scale !== undefined && typeof value === "number" ? convert(value, scale) : value;
  }
  return out;
}
