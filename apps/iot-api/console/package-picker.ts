import { ApiError } from "./api";
import { $, el } from "./dom";
import { type FirmwarePackage, packageList } from "./firmware-api";
import { packageLabel } from "./firmware-view";

/** The form offers this many packages at most, the newest. */
const MAX_PACKAGES = 500;

/**
 * The job form's choice of firmware packages, one checkbox each, read afresh each time a firmware
 * update is chosen (a package may have been uploaded since); the API picks each device's among them.
 */
export function packagePicker() {
  const box = $("job-packages");

  async function load() {
    let items: FirmwarePackage[];
    try {
      ({ items } = await packageList(MAX_PACKAGES));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      box.replaceChildren(el("p", { class: "error" }, [`The API could not list the packages: ${err.message}`]));
      return;
    }
    const chosen = new Set(packages());
    box.replaceChildren(
      ...(items.length > 0
        ? items.map((pkg) => option(pkg, chosen.has(pkg.id)))
        : [el("p", { class: "hint" }, ["No packages yet: upload one on the Firmware page."])]),
    );
  }

  /** The ids ticked. */
  const packages = () => [...box.querySelectorAll<HTMLInputElement>("input:checked")].map((input) => input.value);

  return { load, packages };
}

function option(pkg: FirmwarePackage, checked: boolean) {
  const input = el("input", { type: "checkbox", value: pkg.id });
  input.checked = checked;
  return el("label", { title: `sha256 ${pkg.sha256}` }, [input, ` ${packageLabel(pkg)}`]);
}
