import * as rest from "./api";
import { ApiError, type Group } from "./api";
import { devicesHref } from "./device-list";
import { $, el } from "./dom";

/** The groups page reads this many at most; a longer list says so. */
const MAX_GROUPS = 1000;

/**
 * The groups page: each device group with its kind and query, opening the device list of its members
 * (`group = "<id>"`, which both kinds answer); admins create groups from its form.
 */
export function groupsView() {
  $("group-form").addEventListener("submit", (event) => void create(event));

  async function open() {
    const { items, more } = await rest.groupList(MAX_GROUPS);
    $("group-count").textContent = more ? `the first ${items.length}` : String(items.length);
    $("groups")
      .querySelector("tbody")!
      .replaceChildren(...items.map(row));
  }

  async function create(event: Event) {
    event.preventDefault();
    const field = (id: string) => $<HTMLInputElement>(id).value.trim();
    const [id, name, query] = [field("group-id"), field("group-name"), field("group-query")];
    try {
      await rest.createGroup({ id, ...(name && { name }), ...(query && { query }) });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("group-form-error").textContent = `The API refused the group: ${err.message}`;
      return;
    }
    $("group-form-error").textContent = "";
    $<HTMLFormElement>("group-form").reset();
    await open();
  }

  return { open };
}

const row = (group: Group) =>
  el("tr", { "data-group": group.id }, [
    el("td", {}, [el("a", { class: "mono", href: devicesHref(`group = "${group.id}"`) }, [group.id])]),
    el("td", {}, [group.name]),
    el("td", {}, [group.kind]),
    el("td", { class: "mono" }, [group.query ?? ""]),
    el("td", {}, [group.description]),
  ]);
