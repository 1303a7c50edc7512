import * as rest from "./api";
import { ApiError, type Alarm, type Severity } from "./api";
import { alarmTable } from "./alarm-table";
import { type AlarmFilter, alarmBadge, alarmQueries } from "./alarms";
import { $ } from "./dom";

/** The alarms page reads this many at most; a longer list says so. */
const MAX_ALARMS = 500;

/** The alarms page: every alarm the filter takes, sorted, kept current by alarm events. */
export function alarmsView(changed: () => void) {
  const table = alarmTable($("alarms"), $("alarm-error"), { deviceColumn: true, changed });
  let open = false;
  /** Counts loads: an answer to one that a later one replaced is dropped. */
  let loads = 0;

  $("alarm-filter").addEventListener("change", () => {
    load().catch((err) => {
      if (!(err instanceof ApiError)) throw err;
      $("alarm-error").textContent = `The API refused the filter: ${err.message}`;
    });
  });

  async function load() {
    const load = ++loads;
    const filter = pickedFilter();
    const answers = await Promise.all(alarmQueries(filter).map((query) => rest.alarmList(query, MAX_ALARMS)));
    if (load !== loads || !open) return;
    const alarms = answers.flatMap((a) => a.items);
    table.set(alarms, filter);
    const more = answers.some((a) => a.more) ? ` (the first ${MAX_ALARMS} of each status)` : "";
    $("alarm-count").textContent = `${alarms.length} shown${more}`;
  }

  return {
    async open() {
      open = true;
      await load();
    },
    close() {
      open = false;
    },
    /** An alarm event's alarm. */
    alarm(alarm: Alarm) {
      if (!open) return;
      table.update(alarm);
      $("alarm-count").textContent = `${table.size} shown`;
    },
  };
}

function pickedFilter(): AlarmFilter {
  const status = $("alarm-filter").querySelector<HTMLInputElement>('input[name="alarm-status"]:checked')!.value as AlarmFilter["status"];
  return { status, atLeast: $<HTMLSelectElement>("alarm-severity").value as Severity };
}

/**
 * The header's count of active alarms in the colour of the worst (GET /api/v1/alarms/summary), read
 * again a moment after alarm events (a burst reads it once) and by the caller's interval. Hidden where
 * the API has no alarms (404).
 */
export function alarmBadgeUpdater() {
  let soon: ReturnType<typeof setTimeout> | undefined;
  async function refresh() {
    const badge = $<HTMLAnchorElement>("alarm-badge");
    try {
      const shown = alarmBadge(await rest.alarmSummary());
      badge.textContent = shown.text;
      badge.title = shown.title;
      badge.className = `pill alarms ${shown.worst ?? "none"}`;
      badge.hidden = false;
    } catch (err) {
      // A refusal hides it; an API out of reach leaves the last count up until the next refresh.
      if (err instanceof ApiError) badge.hidden = true;
    }
  }
  return {
    refresh,
    soon() {
      clearTimeout(soon);
      soon = setTimeout(() => void refresh(), 300);
    },
    stop() {
      clearTimeout(soon);
      $("alarm-badge").hidden = true;
    },
  };
}
