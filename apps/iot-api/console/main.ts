import * as rest from "./api";
import { ApiError, storedToken, storeToken, tokenRole, type Alarm, type ConsoleConfig, type Envelope } from "./api";
import { alarmTable } from "./alarm-table";
import { ALARM_KINDS } from "./alarms";
import { alarmBadgeUpdater, alarmsView } from "./alarms-view";
import { chartPanel } from "./chart-panel";
import { deviceList, hrefQuery } from "./device-list";
import { $, el } from "./dom";
import { firmwareView } from "./firmware-view";
import { groupsView } from "./groups-view";
import { importPanel } from "./import-panel";
import { jobDetail } from "./job-detail";
import { JOB_PROGRESS } from "./job-figures";
import { jobForm } from "./job-form";
import { jobsView } from "./jobs-view";
import { connectLive } from "./live";
import { openRules } from "./rules-view";
import { display, millis, numericValues } from "./values";

/**
 * The web console: devices found by a query with their online state, one device's live properties,
 * events, charts over a chosen range, commands and alarms; the alarms, the rules, the device groups and
 * the jobs and the firmware packages; for operators, jobs started, paused and cancelled; for admins,
 * groups made, devices imported and firmware packages uploaded and deleted; over the public REST and
 * WebSocket APIs only, with the token pasted at sign-in.
 */
const PRESENCE = ["status.online", "status.offline"];
const VIEWS = ["login", "devices-view", "device-view", "alarms-view", "rules-view", "groups-view", "jobs-view", "job-view", "firmware-view"] as const;
/** What only an admin, and what an operator or an admin, may do; the API refuses anyone else all the same. */
const ADMIN_PARTS = ["import-panel", "group-create", "firmware-upload"];
const OPERATOR_PARTS = ["job-create", "job-actions"];
/** The header's counts are read again this often, besides when an event says they changed. */
const HEADER_REFRESH_MS = 30_000;

let config: ConsoleConfig;
let live: ReturnType<typeof connectLive> | undefined;
let current: {
  id: string;
  loaded: boolean;
  /** Its numeric properties, in name order, from its state or its first report. */
  numeric: string[];
  statuses: Map<string, string[]>;
} | null = null;
const charts = chartPanel();
const badge = alarmBadgeUpdater();
const alarms = alarmsView(badge.refresh);
const list = deviceList(signOut);
const groups = groupsView();
const importer = importPanel(list.refresh);
const jobs = jobsView();
const job = jobDetail();
const firmware = firmwareView(() => roleIs("admin"));
jobForm(jobs.created);
const deviceAlarms = alarmTable($("device-alarms"), $("device-alarm-error"), { deviceColumn: false, changed: badge.refresh });
let headerTimer: ReturnType<typeof setInterval> | undefined;

void boot();

async function boot() {
  config = await rest.consoleConfig();
  $("login-form").addEventListener("submit", (e) => void signIn(e));
  $("sign-out").addEventListener("click", signOut);
  $("command-form").addEventListener("submit", (e) => void submitCommand(e));
  if (storedToken()) start();
  else show("login");
}

function show(view: (typeof VIEWS)[number]) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  $("nav").hidden = view === "login";
  for (const link of $("nav").querySelectorAll("a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view !== "alarms-view") alarms.close();
  if (view !== "devices-view") list.close();
  if (view !== "jobs-view") jobs.close();
  if (view !== "job-view") job.close();
  // Job progress only while a jobs page shows it: a large job changes every second.
  if (view === "jobs-view" || view === "job-view") live?.subscribe("jobs", { kinds: [JOB_PROGRESS] });
  else live?.unsubscribe("jobs");
}

async function signIn(event: Event) {
  event.preventDefault();
  const token = $<HTMLTextAreaElement>("token").value.trim();
  storeToken(token);
  try {
    await rest.api("/api/v1/devices?limit=1");
  } catch (err) {
    storeToken(null);
    $("login-error").textContent = err instanceof ApiError ? `The API refused the token: ${err.message}` : String(err);
    return;
  }
  $("login-error").textContent = "";
  start();
}

function signOut() {
  storeToken(null);
  live?.close();
  live = undefined;
  clearInterval(headerTimer);
  badge.stop();
  importer.forget();
  $("sign-out").hidden = true;
  $("dead-letters").hidden = true;
  show("login");
}

/** Whether the token's role is one of these; a token the page cannot read is offered everything (the API decides). */
function roleIs(...roles: string[]) {
  const role = tokenRole();
  return role === null || roles.includes(role);
}

function start() {
  $("sign-out").hidden = false;
  for (const id of ADMIN_PARTS) $(id).hidden = !roleIs("admin");
  for (const id of OPERATOR_PARTS) $(id).hidden = !roleIs("admin", "operator");
  let wasDown = false;
  live = connectLive(config.wsUrl, storedToken()!, {
    message: onMessage,
    state: (s) => {
      $("live").textContent = s === "live" ? "live" : s === "connecting" ? "connecting" : "offline";
      $("live").classList.toggle("on", s === "live");
      // What happened while the socket was down is not pushed again: read the page and the badge afresh.
      if (s === "live" && wasDown) {
        void route();
        void badge.refresh();
      }
      if (s === "closed") wasDown = true;
    },
    tokenExpired: () => {
      signOut();
      $("login-error").textContent = "The token expired: paste a new one.";
    },
  });
  live.subscribe("presence", { kinds: PRESENCE });
  live.subscribe("alarms", { kinds: ALARM_KINDS });
  window.onhashchange = () => void route();
  void route();
  const refreshHeader = () => {
    void refreshDeadLetters();
    void badge.refresh();
  };
  refreshHeader();
  clearInterval(headerTimer);
  headerTimer = setInterval(refreshHeader, HEADER_REFRESH_MS);
}

async function route() {
  const match = /^#\/devices\/(.+)$/.exec(location.hash);
  const jobMatch = /^#\/jobs\/(.+)$/.exec(location.hash);
  try {
    if (match) await openDevice(decodeURIComponent(match[1]!));
    else if (jobMatch) await openView("job-view", () => job.open(decodeURIComponent(jobMatch[1]!)));
    else if (location.hash === "#/jobs") await openView("jobs-view", jobs.open);
    else if (location.hash === "#/alarms") await openView("alarms-view", alarms.open);
    else if (location.hash === "#/rules") await openView("rules-view", openRules);
    else if (location.hash === "#/groups") await openView("groups-view", groups.open);
    else if (location.hash === "#/firmware") await openView("firmware-view", firmware.open);
    else await openDevices(hrefQuery(location.hash));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut();
    throw err;
  }
}

/** Leaves a device's page: its live values are no longer wanted. */
function leaveDevice() {
  current = null;
  live?.unsubscribe("device");
}

// ---- the device list -------------------------------------------------------------------------

async function openDevices(query: string) {
  leaveDevice();
  show("devices-view");
  // The device page leads back to the list as it was searched.
  $<HTMLAnchorElement>("devices-back").href = location.hash || "#/";
  await list.open(query);
}

// ---- one device --------------------------------------------------------------------------------

/** A device's page shows its latest alarms, active first. */
const DEVICE_ALARMS = 50;

async function openDevice(id: string) {
  current = { id, loaded: false, numeric: [], statuses: new Map() };
  show("device-view");
  live?.subscribe("device", { devices: [id] });
  const [detail, events, commands, alarmed] = await Promise.all([
    rest.device(id),
    rest.messages(id, "event.report", 20),
    rest.commands(id),
    rest.alarmList(new URLSearchParams(), DEVICE_ALARMS, id),
  ]);
  $("device-title").textContent = detail.id;
  $("device-vendor").textContent = `${detail.vendor}${detail.name ? ` · ${detail.name}` : ""}${detail.parentId ? ` · via ${detail.parentId}` : ""}`;
  setOnline(detail.online);
  $("properties").querySelector("tbody")!.replaceChildren();
  for (const [name, { value, reportedAt }] of Object.entries(detail.state)) setProperty(name, value, Date.parse(reportedAt), false);
  $("events").replaceChildren(...events.map(eventItem));
  $("commands").querySelector("tbody")!.replaceChildren();
  for (const c of commands.reverse()) commandRow(c.id, c.service ?? c.kind, c.status, c.output);
  deviceAlarms.set(alarmed.items);
  await chartChoices(Object.fromEntries(Object.entries(detail.state).map(([k, v]) => [k, v.value])));
  if (current?.id === id) current.loaded = true;
}

/** The numeric properties to chart, from the device's state or, for a device that had none, its first report. */
async function chartChoices(values: Record<string, unknown>) {
  if (!current) return;
  current.numeric = Object.keys(numericValues(values)).sort();
  await charts.show(current.id, current.numeric);
}

function setOnline(online: boolean) {
  $("device-online").className = `dot${online ? " online" : ""}`;
  $("device-online").title = online ? "online" : "offline";
}

function setProperty(name: string, value: unknown, ts: number, flash: boolean) {
  const body = $("properties").querySelector("tbody")!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-prop="${CSS.escape(name)}"]`);
  if (!row) {
    row = el("tr", { "data-prop": name }, [el("th", { class: "mono" }, [name]), el("td", { class: "value mono" }), el("td", { class: "hint" })]);
    body.append(row);
  }
  const cell = row.cells[1]!;
  cell.textContent = display(value);
  row.cells[2]!.textContent = new Date(ts).toLocaleTimeString();
  if (flash) {
    cell.classList.add("changed");
    requestAnimationFrame(() => requestAnimationFrame(() => cell.classList.remove("changed")));
  }
}

const eventItem = (m: Envelope) =>
  el("li", {}, [
    el("span", { class: "hint" }, [new Date(millis(m.ts)).toLocaleTimeString(), " "]),
    el("strong", {}, [String(m.data?.event)]),
    " ",
    el("span", { class: "mono" }, [JSON.stringify(m.data?.data ?? {})]),
  ]);

function commandRow(id: string, service: string | null, status: string, output: unknown) {
  if (!current) return;
  const statuses = current.statuses.get(id) ?? [status];
  current.statuses.set(id, statuses);
  const body = $("commands").querySelector("tbody")!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-command="${CSS.escape(id)}"]`);
  if (!row) {
    row = el("tr", { "data-command": id }, [el("td", { class: "mono" }, [service ?? ""]), el("td"), el("td", { class: "hint" }), el("td", { class: "mono" })]);
    body.prepend(row);
  }
  if (service) row.cells[0]!.textContent = service;
  row.cells[1]!.replaceChildren(el("span", { class: `status ${status}` }, [status]));
  row.cells[2]!.textContent = statuses.join(" → ");
  if (output !== undefined) row.cells[3]!.textContent = output === null ? "" : JSON.stringify(output);
}

async function submitCommand(event: Event) {
  event.preventDefault();
  if (!current) return;
  const service = $<HTMLInputElement>("command-service").value.trim();
  let params: unknown;
  try {
    params = JSON.parse($<HTMLTextAreaElement>("command-params").value || "{}");
  } catch {
    $("command-error").textContent = 'params must be JSON, e.g. {"minutes": 30}';
    return;
  }
  try {
    const accepted = await rest.sendCommand(current.id, service, params);
    $("command-error").textContent = "";
    // The WebSocket may have told us of later statuses already: keep them, after this first one.
    const seen = current.statuses.get(accepted.id);
    if (seen && seen[0] !== accepted.status) seen.unshift(accepted.status);
    commandRow(accepted.id, service, seen?.at(-1) ?? accepted.status, undefined);
  } catch (err) {
    $("command-error").textContent = err instanceof ApiError ? err.message : String(err);
  }
}

// ---- alarms, rules, groups, jobs and firmware ---------------------------------------------------

/** A page of its own (alarms, rules, groups, jobs, a job, firmware): shown, then read. */
async function openView(view: (typeof VIEWS)[number], open: () => Promise<void>) {
  leaveDevice();
  show(view);
  await open();
}

/** An alarm event (data `{change, by, alarm}`): the badge, and the alarm where a page shows it. */
function onAlarm(alarm: Alarm) {
  badge.soon();
  alarms.alarm(alarm);
  if (current && alarm.deviceId === current.id) deviceAlarms.update(alarm);
}

function onMessage(m: Envelope) {
  if (PRESENCE.includes(m.kind)) list.presence(m);
  if (ALARM_KINDS.includes(m.kind)) return onAlarm(m.data.alarm);
  if (m.kind === JOB_PROGRESS) {
    jobs.progress(m.data.job);
    return job.progress(m.data.job);
  }
  if (!current || m.deviceId !== current.id) return;
  switch (m.kind) {
    case "property.report": {
      for (const [name, value] of Object.entries(m.data ?? {})) setProperty(name, value, millis(m.ts), true);
      charts.live(current.id, numericValues(m.data), millis(m.ts));
      if (current.loaded && current.numeric.length === 0) void chartChoices(m.data ?? {});
      break;
    }
    case "event.report":
      $("events").prepend(eventItem(m));
      while ($("events").children.length > 50) $("events").lastElementChild!.remove();
      break;
    case "command.status": {
      const { commandId, status, output } = m.data as { commandId: string; status: string; output?: unknown };
      const seen = current.statuses.get(commandId);
      if (seen && seen.at(-1) !== status) seen.push(status);
      commandRow(commandId, null, status, output);
      break;
    }
    case "status.online":
    case "status.offline":
      setOnline(m.kind === "status.online");
      break;
  }
}

async function refreshDeadLetters() {
  const badge = $<HTMLAnchorElement>("dead-letters");
  const pending = await rest.deadLetterCount().catch(() => null);
  badge.hidden = pending === null;
  if (pending) badge.textContent = `${pending.count}${pending.more ? "+" : ""} dead letter${pending.count === 1 && !pending.more ? "" : "s"}`;
}
