/** The REST API as the console uses it: JSON with the signed-in token (docs/interfaces.md: REST). */

export interface ConsoleConfig {
  wsUrl: string;
}

export interface Device {
  id: string;
  vendor: string;
  name: string | null;
  online: boolean;
  lastSeenAt: string | null;
  parentId: string | null;
  tags: string[];
}

export interface DeviceDetail extends Device {
  state: Record<string, { value: unknown; reportedAt: string }>;
}

export interface Envelope {
  id: string;
  /** ms on the WebSocket; an ISO date in the message log. */
  ts: number | string;
  vendor: string;
  deviceId: string;
  kind: string;
  // biome-ignore lint/suspicious/noExplicitAny: an envelope's data has a shape per kind; each view reads the fields it shows.
  data: any;
  correlationId?: string;
}

export interface Command {
  id: string;
  kind: string;
  service: string | null;
  params?: unknown;
  status: string;
  output?: unknown;
  history?: { status: string; at: string; reason?: string | null }[];
}

/** GET /api/v1/devices/:id/telemetry/series: one aggregate per window (`ts`, its start), windows without data left out. */
export interface SeriesAnswer {
  deviceId: string;
  fn: string;
  every: string;
  from: string;
  to: string;
  series: { property: string; points: { ts: string; value: number }[] }[];
}

export type Severity = "critical" | "major" | "minor" | "warning";

/** An alarm as the API answers it (GET /api/v1/alarms): times are RFC 3339. */
export interface Alarm {
  id: string;
  /** null: a platform alarm (dead letters piling up). */
  deviceId: string | null;
  vendor: string;
  source: string;
  type: string;
  severity: Severity;
  status: "active" | "cleared";
  acknowledged: boolean;
  acknowledgedBy: string | null;
  assignee: string | null;
  startedAt: string;
  lastSeenAt: string;
  endedAt: string | null;
  clearedBy: string | null;
  occurrences: number;
  details: Record<string, unknown>;
  updatedAt: string;
}

/** GET /api/v1/alarms/summary. */
export interface AlarmSummary {
  active: Partial<Record<Severity, number>>;
  unacknowledged: number;
}

/** A rule's latest version with how it last went (GET /api/v1/rules). */
export interface Rule {
  id: string;
  name: string;
  version: number;
  enabled: boolean;
  /** The thing model it applies to, or null: it applies to `devices`. */
  model: string | null;
  devices: string[];
  status: { devices: number; evaluatedAt: string | null; lastError: string | null; activeAlarms: number };
}

/** GET /api/v1/devices: a page by id; `total` where `count=true` asked for it. */
export interface DevicePage {
  items: Device[];
  nextCursor: string | null;
  total?: number;
}

/** A device group (GET /api/v1/groups): static lists its members, dynamic is a saved device query. */
export interface Group {
  id: string;
  name: string;
  description: string;
  kind: "static" | "dynamic";
  query: string | null;
}

/** A bulk import's row that cannot go in; `line` counts the file's lines, the header being 1. */
export interface ImportProblem {
  line: number;
  id: string | null;
  reason: string;
}

/** POST /api/v1/devices/import?dryRun=true. */
export interface ImportCheck {
  rows: number;
  valid: boolean;
  errors: ImportProblem[];
}

/** A refused request, with the API's own message and details (`{"error": {code, message, details}}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "umos.token";
export const storedToken = () => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string | null) => (token ? sessionStorage.setItem(TOKEN_KEY, token) : sessionStorage.removeItem(TOKEN_KEY));

/**
 * The token's role claim, so the page offers only what the role may do (the API still decides);
 * null where the token is not a JWT the page can read, as where the API runs without authentication.
 */
export function tokenRole(): string | null {
  try {
    const payload = storedToken()!.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/");
    const role = JSON.parse(atob(payload)).role;
    return typeof role === "string" ? role : null;
  } catch {
    return null;
  }
}

/** A request with the signed-in token; an answer other than 2xx throws an ApiError. */
export async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: BodyInit }): Promise<Response> {
  const headers = { authorization: `Bearer ${storedToken() ?? ""}`, ...init.headers };
  const res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body });
  if (res.ok) return res;
  const text = await res.text();
  let error: { message?: string; details?: unknown } | undefined;
  try {
    error = JSON.parse(text).error;
  } catch {
    // Not the API's JSON (a proxy's page, say): the status says what there is to say.
  }
  throw new ApiError(res.status, error?.message ?? `HTTP ${res.status}`, error?.details);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const json = init.body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(init.body) };
  const text = await (await send(path, { method: init.method, ...json })).text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const consoleConfig = async (): Promise<ConsoleConfig> => (await fetch("/console/config")).json();

/** A page of the devices a query (the device query language; empty: all) matches; the first page counts them all. */
export function devicePage(query: string, after: string | null, limit: number): Promise<DevicePage> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (query) params.set("q", query);
  if (after === null) params.set("count", "true");
  else params.set("after", after);
  return api<DevicePage>(`/api/v1/devices?${params}`);
}

export const device = (id: string) => api<DeviceDetail>(`/api/v1/devices/${encodeURIComponent(id)}`);

export const messages = (id: string, kind: string, limit: number) =>
  api<{ items: Envelope[] }>(`/api/v1/devices/${encodeURIComponent(id)}/messages?kind=${kind}&limit=${limit}`).then((r) => r.items);

export const commands = (id: string) => api<{ items: Command[] }>(`/api/v1/devices/${encodeURIComponent(id)}/commands?limit=10`).then((r) => r.items);

export const command = (id: string) => api<Command>(`/api/v1/commands/${encodeURIComponent(id)}`);

export const sendCommand = (deviceId: string, service: string, params: unknown) =>
  api<{ id: string; status: string }>(`/api/v1/devices/${encodeURIComponent(deviceId)}/commands`, { method: "POST", body: { service, params } });

/** Properties over the same windows, from the time series: 400 for a range it refuses, 501 when none is configured. */
export function telemetrySeries(id: string, properties: string[], range: { from: string; to: string }, fn: string): Promise<SeriesAnswer> {
  const query = new URLSearchParams([...properties.map((p) => ["property", p]), ["from", range.from], ["to", range.to], ["fn", fn]]);
  return api<SeriesAnswer>(`/api/v1/devices/${encodeURIComponent(id)}/telemetry/series?${query}`);
}

/** Pending dead letters, or null where the endpoint is not there (404) or not for this token (403). */
export async function deadLetterCount(): Promise<{ count: number; more: boolean } | null> {
  try {
    const page = await api<{ items: unknown[]; nextCursor: string | null }>("/api/v1/dead-letters?state=pending&limit=100");
    return { count: page.items.length, more: page.nextCursor !== null };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return null;
    throw err;
  }
}

/** Alarms a query names (`status=…&severity=…`), page after page up to `max`: the console sorts them itself. */
export async function alarmList(query: URLSearchParams, max: number, deviceId?: string): Promise<{ items: Alarm[]; more: boolean }> {
  const base = deviceId === undefined ? "/api/v1/alarms" : `/api/v1/devices/${encodeURIComponent(deviceId)}/alarms`;
  const items: Alarm[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    params.set("limit", String(Math.min(500, max - items.length)));
    if (cursor) params.set("cursor", cursor);
    const page: { items: Alarm[]; nextCursor: string | null } = await api(`${base}?${params}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return { items, more: cursor !== null };
}

export const alarmSummary = () => api<AlarmSummary>("/api/v1/alarms/summary");

const alarmPath = (id: string) => `/api/v1/alarms/${encodeURIComponent(id)}`;
export const acknowledgeAlarm = (id: string) => api<Alarm>(`${alarmPath(id)}/acknowledge`, { method: "POST" });
export const clearAlarm = (id: string) => api<Alarm>(`${alarmPath(id)}/clear`, { method: "POST" });
/** null: assigned to nobody. */
export const assignAlarm = (id: string, assignee: string | null) => api<Alarm>(`${alarmPath(id)}/assignee`, { method: "PUT", body: { assignee } });

export const rules = () => api<Rule[]>("/api/v1/rules");

/** Groups in id order, page after page up to `max`. */
export async function groupList(max: number): Promise<{ items: Group[]; more: boolean }> {
  const items: Group[] = [];
  let after: string | null = null;
  do {
    const params = new URLSearchParams({ limit: String(Math.min(500, max - items.length)) });
    if (after) params.set("after", after);
    const page: { items: Group[]; nextCursor: string | null } = await api(`/api/v1/groups?${params}`);
    items.push(...page.items);
    after = page.nextCursor;
  } while (after && items.length < max);
  return { items, more: after !== null };
}

/** A query makes it dynamic; without one it is static, its members added through the API. */
export const createGroup = (group: { id: string; name?: string; query?: string }) => api<Group>("/api/v1/groups", { method: "POST", body: group });

/** The file as it is: `type` is text/csv or application/json. */
export const checkImport = (file: Blob, type: string) =>
  send("/api/v1/devices/import?dryRun=true", { method: "POST", headers: { "content-type": type }, body: file }).then(
    (res) => res.json() as Promise<ImportCheck>,
  );

/** Registers every device in the file or none; answers with the one-time credentials CSV (username,password) and the API's name for it. */
export async function importDevices(file: Blob, type: string): Promise<{ csv: string; filename: string }> {
  const res = await send("/api/v1/devices/import", { method: "POST", headers: { "content-type": type, accept: "text/csv" }, body: file });
  const named = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "");
  return { csv: await res.text(), filename: named?.[1] ?? "umos-credentials.csv" };
}
