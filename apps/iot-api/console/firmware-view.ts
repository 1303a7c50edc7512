import { ApiError } from "./api";
import { $, el } from "./dom";
import * as rest from "./firmware-api";
import type { FirmwarePackage, Vendor } from "./firmware-api";

/** The firmware page reads this many at most; a longer list says so. */
const MAX_PACKAGES = 1000;

/**
 * The firmware page: the packages firmware update jobs roll out, newest first, each with its sha256
 * (shortened; the full value in its title) to check against the vendor's. Admins upload packages from
 * its form and delete them (`admin` says whether the signed-in token is one; the API decides all the same).
 */
export function firmwareView(admin: () => boolean) {
  const form = $<HTMLFormElement>("firmware-form");
  form.addEventListener("submit", (event) => void upload(event));
  form.addEventListener("reset", () => say("", ""));

  async function open() {
    say("", "");
    await read();
  }

  async function read() {
    const { items, more } = await rest.packageList(MAX_PACKAGES);
    $("firmware-count").textContent = more ? `the first ${items.length}` : String(items.length);
    $("firmware")
      .querySelector("tbody")!
      .replaceChildren(...items.map(row));
  }

  async function upload(event: Event) {
    event.preventDefault();
    const file = $<HTMLInputElement>("firmware-file").files?.[0];
    if (!file) return say("", "Choose the package file first.");
    const field = (id: string) => $<HTMLInputElement>(id).value.trim();
    const fields = {
      vendor: field("firmware-vendor") as Vendor,
      version: field("firmware-version"),
      model: field("firmware-model"),
      notes: field("firmware-notes"),
    };
    const button = $<HTMLButtonElement>("firmware-upload-run");
    button.disabled = true;
    say(`Uploading ${file.name} (${size(file.size)})…`, "");
    try {
      const pkg = await rest.uploadPackage(file, fields);
      form.reset();
      say(`Uploaded ${pkg.vendor} ${pkg.version}: sha256 ${pkg.sha256}`, "");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say("", `The API refused the package: ${err.message}`);
      return;
    } finally {
      button.disabled = false;
    }
    await read();
  }

  async function remove(pkg: FirmwarePackage) {
    if (!confirm(`Delete the firmware package ${packageLabel(pkg)}? Jobs that still need it will fail.`)) return;
    try {
      await rest.deletePackage(pkg.id);
      say(`Deleted ${packageLabel(pkg)}.`, "");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say("", `Could not delete ${packageLabel(pkg)}: ${err.message}`);
    }
    await read();
  }

  /** What the page says of the last upload or delete, done or refused. */
  function say(result: string, error: string) {
    $("firmware-result").textContent = result;
    $("firmware-error").textContent = error;
  }

  const row = (pkg: FirmwarePackage) => {
    const actions = el("td");
    if (admin()) {
      const button = el("button", { type: "button", class: "small secondary", "data-action": "delete" }, ["Delete"]);
      button.addEventListener("click", () => void remove(pkg));
      actions.append(button);
    }
    return el("tr", { "data-package": pkg.id }, [
      el("td", {}, [pkg.vendor]),
      el("td", { class: "mono" }, [pkg.model ?? "any"]),
      el("td", { class: "mono" }, [pkg.version]),
      el("td", { class: "mono" }, [pkg.fileName]),
      el("td", { class: "count" }, [size(pkg.size)]),
      el("td", { class: "mono", title: pkg.sha256 }, [`${pkg.sha256.slice(0, 12)}…`]),
      el("td", {}, [pkg.notes]),
      el("td", { class: "hint" }, [`${new Date(pkg.createdAt).toLocaleString()}${pkg.createdBy ? ` by ${pkg.createdBy}` : ""}`]),
      actions,
    ]);
  };

  return { open };
}

/** "generic 2.0.0 (fw.bin)", or with its model "dji dock2 2.0.0 (fw.bin)": how the console names a package. */
export const packageLabel = (pkg: FirmwarePackage) => `${pkg.vendor}${pkg.model ? ` ${pkg.model}` : ""} ${pkg.version} (${pkg.fileName})`;

/** "64 KiB": a size in binary units, as firmware.maxBytes is given. */
export function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) {
    bytes /= 1024;
    unit++;
  }
  return `${unit === 0 ? bytes : Number(bytes.toFixed(1))} ${units[unit]}`;
}
