import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import { read, readYaml, root } from "./repo";

/** What Grafana's provisioning reads of deployments/grafana, and the queries the dashboards run. */
export const GRAFANA = "deployments/grafana";
export const DASHBOARDS = `${GRAFANA}/dashboards`;

export interface DataSourceRef {
  type?: string;
  uid?: string;
}
export interface Target {
  refId?: string;
  datasource?: DataSourceRef;
  expr?: string;
  query?: string;
}
export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: DataSourceRef;
  targets?: Target[];
}
export interface Variable {
  name: string;
  type: string;
  datasource?: DataSourceRef;
  query?: string | { query?: string };
}
export interface Dashboard {
  id?: number | null;
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
  annotations?: { list?: Array<{ datasource?: DataSourceRef; query?: string }> };
}
export interface DataSource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, unknown>;
}

/** Every dashboard file, parsed. */
export async function loadDashboards(): Promise<Array<{ file: string; dashboard: Dashboard }>> {
  const files = (await readdir(resolve(root, DASHBOARDS))).filter((f) => f.endsWith(".json")).sort();
  return Promise.all(files.map(async (file) => ({ file, dashboard: JSON.parse(await read(`${DASHBOARDS}/${file}`)) as Dashboard })));
}

/** The datasources of every provisioning file, by uid. */
export async function loadDataSources(): Promise<Map<string, DataSource>> {
  const dir = `${GRAFANA}/provisioning/datasources`;
  const files = (await readdir(resolve(root, dir))).filter((f) => /\.ya?ml$/.test(f));
  const sources = await Promise.all(files.map((f) => readYaml<{ apiVersion: number; datasources: DataSource[] }>(`${dir}/${f}`)));
  return new Map(sources.flatMap((s) => s.datasources).map((d) => [d.uid, d]));
}

/** A query of a dashboard with the datasource it runs on and where it is, for messages. */
export interface Query {
  where: string;
  datasource: DataSourceRef | undefined;
  text: string;
}

/** Panel targets (their own datasource, else the panel's), variable queries and annotation queries. */
export function queriesOf(file: string, dashboard: Dashboard): Query[] {
  const panels = (dashboard.panels ?? []).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      where: `${file} panel ${panel.id} "${panel.title}" ${t.refId}`,
      datasource: t.datasource ?? panel.datasource,
      text: t.expr ?? t.query ?? "",
    })),
  );
  const variables = (dashboard.templating?.list ?? [])
    .filter((v) => v.type === "query")
    .map((v) => ({ where: `${file} variable $${v.name}`, datasource: v.datasource, text: typeof v.query === "string" ? v.query : (v.query?.query ?? "") }));
  const annotations = (dashboard.annotations?.list ?? [])
    .filter((a) => a.query)
    .map((a, i) => ({ where: `${file} annotation ${i}`, datasource: a.datasource, text: a.query! }));
  return [...panels, ...variables, ...annotations];
}

/** A series selector's label matcher, `stage="device"`. */
export interface Matcher {
  label: string;
  op: string;
  value: string;
}

/** What one PromQL expression asks of the metrics: series names, label matchers per name, grouping labels. */
export interface PromQLReferences {
  metrics: string[];
  matchers: Array<{ metric: string } & Matcher>;
  grouping: string[];
}

/**
 * Not a PromQL parser: the project's metric names (docs/design.md §7: `iot_*`, and `process_*`) are found
 * by pattern, which is all the check "reference only metrics that exist" needs.
 */
export function promqlReferences(expr: string): PromQLReferences {
  const metrics = [...new Set([...expr.matchAll(/\b((?:iot|process)_[a-z0-9_]+)/g)].map((m) => m[1]!))];
  const matchers = [...expr.matchAll(/\b((?:iot|process)_[a-z0-9_]+)\s*\{([^}]*)\}/g)].flatMap((m) =>
    [...m[2]!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((l) => ({ metric: m[1]!, label: l[1]!, op: l[2]!, value: l[3]! })),
  );
  const grouping = [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return { metrics, matchers, grouping };
}

/** Durations Grafana puts in for its interval variables, roughly as it would for an hour's range. */
const INTERVALS: Record<string, string> = { __rate_interval: "1m", __interval: "15s", __range: "1h" };

/**
 * A Prometheus query as Grafana sends it: interval variables become durations, other variables (the
 * dashboard's, inside label matchers) a regex taking any value, a `label_values(selector, label)`
 * variable query its selector.
 */
export function asPromQL(text: string): string {
  const selector = /^label_values\((.*),\s*\w+\)$/s.exec(text.trim())?.[1] ?? text;
  return selector.replace(/\$\{?(\w+)\}?/g, (_, name: string) => INTERVALS[name] ?? ".*");
}

/** `$name`, `${name}` and `[[name]]` variables a query uses. */
export const variablesIn = (text: string) => [...text.matchAll(/\$\{?(\w+)|\[\[(\w+)\]\]/g)].map((m) => (m[1] ?? m[2])!);

/** Variables Grafana defines itself (global variables; InfluxQL's $timeFilter). */
export const BUILT_IN_VARIABLES = new Set([
  "__rate_interval",
  "__interval",
  "__interval_ms",
  "__range",
  "__range_s",
  "__range_ms",
  "__dashboard",
  "__from",
  "__to",
  "timeFilter",
]);
