import * as rest from "./api";
import { ApiError, type Device, type Envelope } from "./api";
import { $, el } from "./dom";
import { ago, millis } from "./values";

/** Devices read at a time; "more" reads the next page. */
const PAGE = 200;

/** The device list's address for a query (the device query language; empty: every device). */
export const devicesHref = (query: string) => (query ? `#/?q=${encodeURIComponent(query)}` : "#/");

/** The query a device list's address holds, "" where it holds none. */
export const hrefQuery = (hash: string) => (hash.startsWith("#/?") ? (new URLSearchParams(hash.slice(3)).get("q") ?? "") : "");

/**
 * The device list: the devices a query matches, counted, page by page, the query kept in the page's
 * address so a reload or a link repeats it. Presence events keep the rows shown current; the API's
 * refusal of a query is shown beside the box, with the column it names.
 */
export function deviceList(unauthorized: () => void) {
  const shown = new Map<string, Device>();
  let query = "";
  let total = 0;
  let next: string | null = null;
  let open = false;
  /** False while the API refuses the query. */
  let accepted = false;
  /** Counts searches: an answer for one that a later one replaced is dropped. */
  let loads = 0;
  let reload: ReturnType<typeof setTimeout> | undefined;

  $("device-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const href = devicesHref($<HTMLInputElement>("device-query").value.trim());
    // The same address again fires no hashchange: search again here.
    if (location.hash === href) void load();
    else location.hash = href;
  });
  $("device-more").addEventListener("click", () => void more());

  async function load() {
    const load = ++loads;
    clearTimeout(reload);
    const answer = await read(null);
    if (load !== loads || !open) return;
    shown.clear();
    next = null;
    // A refused query leaves no list and no count: only the API's reason, beside the box.
    accepted = typeof answer !== "string";
    total = typeof answer === "string" ? 0 : (answer.total ?? 0);
    show(answer);
  }

  async function more() {
    const load = loads;
    const button = $<HTMLButtonElement>("device-more");
    button.disabled = true;
    try {
      const answer = await read(next);
      if (load === loads && open) show(answer);
    } finally {
      button.disabled = false;
    }
  }

  /** A page, or why the API refused it. */
  async function read(after: string | null): Promise<rest.DevicePage | string> {
    try {
      return await rest.devicePage(query, after, PAGE);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 401) unauthorized();
      return `The API refused ${query ? "the query" : "the list"}: ${err.message}`;
    }
  }

  function show(answer: rest.DevicePage | string) {
    if (typeof answer !== "string") {
      for (const d of answer.items) shown.set(d.id, d);
      next = answer.nextCursor;
    }
    $("device-error").textContent = typeof answer === "string" ? answer : "";
    render();
  }

  function render() {
    $("devices")
      .querySelector("tbody")!
      .replaceChildren(...[...shown.values()].map(row));
    $("device-more").hidden = next === null;
    const online = [...shown.values()].filter((d) => d.online).length;
    $("device-count").textContent = accepted ? countLine(total, shown.size, online, query !== "") : "";
    $("devices").hidden = !accepted;
  }

  return {
    /** Shows the devices this query matches. */
    async open(search: string) {
      open = true;
      query = search;
      $<HTMLInputElement>("device-query").value = search;
      await load();
    },
    close() {
      open = false;
      clearTimeout(reload);
    },
    /** Reads the list again, as when devices were added. */
    refresh() {
      if (open) void load();
    },
    /** A status.online or status.offline event. */
    presence(m: Envelope) {
      if (!open) return;
      const known = shown.get(m.deviceId);
      if (known) {
        known.online = m.kind === "status.online";
        known.lastSeenAt = new Date(millis(m.ts)).toISOString();
        render();
      } else if (query === "" && next === null) {
        // A device registered since (a DJI aircraft from its dock's topology): read the list again, once.
        // Under a query, or with pages not read yet, it may be one the list leaves out: the list stays as searched.
        clearTimeout(reload);
        reload = setTimeout(() => void load(), 500);
      }
    },
  };
}

function row(d: Device) {
  const row = el("tr", { "data-device": d.id }, [
    el("td", {}, [el("span", { class: `dot${d.online ? " online" : ""}`, title: d.online ? "online" : "offline" })]),
    el("td", { class: "mono" }, [d.id]),
    el("td", {}, [d.vendor]),
    el("td", {}, [d.name ?? ""]),
    el(
      "td",
      { class: "tags" },
      d.tags.map((tag) => el("span", { class: "tag" }, [tag])),
    ),
    el("td", { class: "mono" }, [d.parentId ?? ""]),
    el("td", {}, [ago(d.lastSeenAt)]),
  ]);
  row.addEventListener("click", () => (location.hash = `#/devices/${encodeURIComponent(d.id)}`));
  return row;
}

/** "3 devices · 1 online", "2 matching · 0 online"; with pages still unread, how many of those shown are online. */
function countLine(total: number, shown: number, online: number, searched: boolean) {
  const all = searched ? `${total} matching` : `${total} device${total === 1 ? "" : "s"}`;
  return shown < total ? `${all} · ${online} of the first ${shown} online` : `${all} · ${online} online`;
}
