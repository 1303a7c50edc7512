import * as rest from "./api";
import { ApiError, type Alarm } from "./api";
import { type AlarmFilter, compareAlarms, handling, SEVERITIES, withAlarm } from "./alarms";
import { $, el } from "./dom";
import { ago } from "./values";

/**
 * A table of alarms with their actions (acknowledge, clear, assign), on the alarms page and a device's
 * page. Each action calls the REST API; its answer, like an alarm event, goes through `update`.
 */
export function alarmTable(table: HTMLTableElement, errorLine: HTMLElement, options: { deviceColumn: boolean; changed(): void }) {
  let shown: Alarm[] = [];
  let filter: AlarmFilter | undefined;

  const render = () => {
    table.querySelector("tbody")!.replaceChildren(...shown.map(row));
  };

  function row(alarm: Alarm): HTMLTableRowElement {
    // The severity names a class only when it is one of ours: the API's value is data.
    const severity = SEVERITIES.includes(alarm.severity) ? alarm.severity : "unknown";
    const device = alarm.deviceId
      ? el("a", { href: `#/devices/${encodeURIComponent(alarm.deviceId)}`, class: "mono" }, [alarm.deviceId])
      : el("span", { class: "hint" }, ["platform"]);
    const actions = el("td", { class: "actions" });
    if (!alarm.acknowledged) actions.append(action("acknowledge", alarm, () => rest.acknowledgeAlarm(alarm.id)));
    if (alarm.status === "active") actions.append(action("clear", alarm, () => rest.clearAlarm(alarm.id)));
    actions.append(action("assign", alarm, () => askAssignee(alarm)));
    return el("tr", { "data-alarm": alarm.id, class: alarm.status }, [
      el("td", {}, [el("span", { class: `sev ${severity}` }, [alarm.severity])]),
      el("td", { title: `${alarm.source} ${JSON.stringify(alarm.details)}` }, [alarm.type]),
      ...(options.deviceColumn ? [el("td", {}, [device])] : []),
      el("td", { title: alarm.startedAt }, [new Date(alarm.startedAt).toLocaleString()]),
      el("td", { title: alarm.lastSeenAt }, [ago(alarm.lastSeenAt)]),
      el("td", { class: "count" }, [String(alarm.occurrences)]),
      el("td", { class: "handling" }, [handling(alarm)]),
      actions,
    ]);
  }

  /** A button that runs its request once at a time, then shows the alarm as the API answered or why it refused. */
  function action(name: string, alarm: Alarm, run: () => Promise<Alarm | null>) {
    const button = el("button", { type: "button", class: "small", "data-action": name }, [name]);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const changed = await run();
        errorLine.textContent = "";
        if (changed) update(changed);
        options.changed();
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        errorLine.textContent = `Could not ${name} the ${alarm.type} alarm: ${err.message}`;
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function update(alarm: Alarm) {
    shown = withAlarm(shown, alarm, filter);
    render();
  }

  return {
    /** Shows these alarms (sorted here), and which of their later states still belong (all without a filter). */
    set(alarms: Alarm[], show?: AlarmFilter) {
      filter = show;
      shown = [...alarms].sort(compareAlarms);
      errorLine.textContent = "";
      render();
    },
    /** An alarm's new state, from an event. */
    update,
    get size() {
      return shown.length;
    },
  };
}

/** Asks whom to assign the alarm to (empty: nobody) in the page's one dialog, then assigns; null when cancelled. */
function askAssignee(alarm: Alarm): Promise<Alarm | null> {
  const dialog = $<HTMLDialogElement>("assign-dialog");
  const input = $<HTMLInputElement>("assignee");
  $("assign-what").textContent = `${alarm.type} on ${alarm.deviceId ?? "the platform"}`;
  input.value = alarm.assignee ?? "";
  dialog.showModal();
  return new Promise((resolve, reject) => {
    // Handlers by property: each question replaces the last one's.
    $("assign-cancel").onclick = () => dialog.close();
    dialog.onclose = () => resolve(null);
    $<HTMLFormElement>("assign-form").onsubmit = (event) => {
      event.preventDefault();
      dialog.onclose = null;
      dialog.close();
      const assignee = input.value.trim();
      rest.assignAlarm(alarm.id, assignee === "" ? null : assignee).then(resolve, reject);
    };
  });
}
