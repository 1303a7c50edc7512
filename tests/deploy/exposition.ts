/** One sample line of a /metrics page: `name{label="value",...} 12.5`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  type: string;
  samples: Sample[];
}

/** Metric families by name, as Prometheus' text format 0.0.4 declares them in `# TYPE` lines. */
export type Exposition = Map<string, Family>;

/** A histogram's or summary's family declares `x`; its samples are `x_bucket`, `x_sum`, `x_count`. */
const SERIES_SUFFIX = /_(bucket|sum|count)$/;

export function parseExposition(text: string): Exposition {
  const families: Exposition = new Map();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, samples: [] });
    if (!line || line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample) throw new Error(`not a sample line of the Prometheus text format: ${line}`);
    const labels = Object.fromEntries([...(sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    const family = familyOf(families, sample[1]!);
    if (!family) throw new Error(`sample ${sample[1]} has no # TYPE line`);
    families.get(family)!.samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return families;
}

/** The family a series name belongs to: itself, or a histogram's or summary's without its suffix. */
export function familyOf(families: Exposition, name: string): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(SERIES_SUFFIX, "");
  const type = families.get(base)?.type;
  return type === "histogram" || type === "summary" ? base : undefined;
}

/** The sum of a family's samples whose labels include `match` (a histogram's `_count` series, when given). */
export function total(families: Exposition, name: string, match: Record<string, string> = {}): number {
  return (families.get(familyOf(families, name) ?? "")?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Several services' families as one, as Prometheus holds them side by side. */
export function merge(expositions: Exposition[]): Exposition {
  const merged: Exposition = new Map();
  for (const families of expositions) {
    for (const [name, { type, samples }] of families) merged.set(name, { type, samples: [...(merged.get(name)?.samples ?? []), ...samples] });
  }
  return merged;
}

/** The values each label takes across a family's samples. */
export function labelValues(family: Family): Map<string, Set<string>> {
  const labels = new Map<string, Set<string>>();
  for (const sample of family.samples) {
    for (const [label, value] of Object.entries(sample.labels)) labels.set(label, (labels.get(label) ?? new Set()).add(value));
  }
  return labels;
}

/** GET /metrics of a service, parsed. */
export async function scrape(port: number): Promise<Exposition> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics on port ${port}: ${res.status}`);
  return parseExposition(await res.text());
}
