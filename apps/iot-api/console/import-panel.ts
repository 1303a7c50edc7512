import * as rest from "./api";
import { ApiError, type ImportProblem } from "./api";
import { $, el } from "./dom";

/**
 * Bulk provisioning from a CSV or JSON file (POST /api/v1/devices/import), for admins: Check is the
 * dry run, listing every row that cannot go in; Import registers all rows or none and hands over the
 * credentials CSV, the only time the passwords are shown (the API keeps their hashes).
 */
export function importPanel(imported: () => void) {
  /** The credentials file's object URL, until the next import or sign-out lets it go. */
  let credentials: string | undefined;

  $("import-check").addEventListener("click", () => void run(check));
  $("import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void run(register);
  });
  $("import-file").addEventListener("change", () => report("", "", []));

  async function run(action: (file: File, type: string) => Promise<void>) {
    const file = $<HTMLInputElement>("import-file").files?.[0];
    if (!file) return report("", "Choose a CSV or JSON file first.", []);
    const buttons = [$<HTMLButtonElement>("import-check"), $<HTMLButtonElement>("import-run")];
    for (const button of buttons) button.disabled = true;
    try {
      // Browsers type a .csv file variously (text/csv, application/vnd.ms-excel, nothing): the name decides.
      await action(file, file.name.toLowerCase().endsWith(".json") ? "application/json" : "text/csv");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // A refused import lists its rows in details.errors, as a dry run would.
      report("", err.message, (err.details as { errors?: ImportProblem[] } | undefined)?.errors ?? []);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  async function check(file: File, type: string) {
    const answer = await rest.checkImport(file, type);
    const refused = new Set(answer.errors.map((p) => p.line)).size;
    if (answer.valid) report(`${answer.rows} rows valid.`, "", []);
    else report("", `${refused} of ${answer.rows} rows cannot be imported:`, answer.errors);
  }

  async function register(file: File, type: string) {
    const answer = await rest.importDevices(file, type);
    forget();
    credentials = URL.createObjectURL(new Blob([answer.csv], { type: "text/csv" }));
    const link = $<HTMLAnchorElement>("import-credentials");
    link.href = credentials;
    link.download = answer.filename;
    link.hidden = false;
    const devices = answer.csv.trimEnd().split("\n").length - 1;
    report(
      `${devices} device${devices === 1 ? "" : "s"} imported. Their MQTT passwords are in the credentials file, shown only this once: keep it safe.`,
      "",
      [],
    );
    link.click();
    imported();
  }

  function report(result: string, error: string, problems: ImportProblem[]) {
    $("import-result").textContent = result;
    $("import-error").textContent = error;
    const table = $("import-errors");
    table.hidden = problems.length === 0;
    table
      .querySelector("tbody")!
      .replaceChildren(
        ...problems.map((p) =>
          el("tr", {}, [el("td", { class: "count" }, [String(p.line)]), el("td", { class: "mono" }, [p.id ?? ""]), el("td", {}, [p.reason])]),
        ),
      );
  }

  /** Lets the last credentials file go and clears what the panel says. */
  function forget() {
    if (credentials) URL.revokeObjectURL(credentials);
    credentials = undefined;
    $("import-credentials").hidden = true;
    report("", "", []);
  }

  return { forget };
}
