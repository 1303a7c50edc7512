import * as rest from "./api";
import { ApiError } from "./api";
import { seriesCharts } from "./chart";
import { $ } from "./dom";
import { answerCaption, answerSeries, answerSpan, customRange, localInput, MAX_PROPERTIES, presetRange, reportSeries, type Range } from "./series";

/** The device page's charts: its numeric properties over the range picked, and live values where the range ends now. */
export function chartPanel() {
  const chart = seriesCharts($("chart"));
  let shown: { id: string; numeric: string[] } | null = null;
  /** Counts chart queries: an answer to one that a later one replaced is dropped. */
  let queries = 0;
  /** Whether live reports extend the charts: not while a query is out, nor over a range that ended. */
  let live = false;

  $("chart-controls").addEventListener("change", (event) => {
    // Editing an end makes the range a custom one, whichever preset filled it in.
    if ((event.target as HTMLInputElement).type === "datetime-local") $<HTMLInputElement>("chart-custom").checked = true;
    void load();
  });

  /**
   * Charts the numeric properties over the range picked, from the time series; without one (501), the
   * recent reports of the message log. A range the API refuses (400) leaves the charts empty, with its reason.
   */
  async function load() {
    if (!shown) return;
    const device = shown;
    const query = ++queries;
    const stale = () => shown !== device || query !== queries;
    live = false;
    $("chart-error").textContent = "";
    const properties = device.numeric.slice(0, MAX_PROPERTIES);
    if (properties.length === 0) {
      chart.set([], null);
      $("chart-source").textContent = "No numeric property reported yet.";
      return;
    }
    const more = properties.length < device.numeric.length ? ` The first ${MAX_PROPERTIES} of ${device.numeric.length} numeric properties.` : "";
    const range = pickedRange();
    if (!range) return noChart(properties, "Choose both a start and an end for a custom range.");
    const controls = $<HTMLFieldSetElement>("chart-controls");
    let why: string;
    // Asked whatever the server's store: its 501 is what says there is none.
    try {
      const answer = await rest.telemetrySeries(device.id, properties, range, $<HTMLSelectElement>("chart-fn").value);
      if (stale()) return;
      chart.set(answerSeries(answer, properties), answerSpan(answer));
      $("chart-source").textContent = answerCaption(answer, range.live) + more;
      controls.disabled = false;
      live = range.live;
      return;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (stale()) return;
      if (err.status === 400) return noChart(properties, `The API refused this range: ${err.message}`);
      // Without a time series, range and aggregate have nothing to change: the message log has only recent reports.
      controls.disabled = err.status === 501;
      why = err.status === 501 ? "No time series configured" : `Time series unavailable (${err.message})`;
    }
    const reports = await rest.messages(device.id, "property.report", 200);
    if (stale()) return;
    chart.set(reportSeries(reports, properties), null);
    $("chart-source").textContent = `${why}: recent property reports from the message log, then live values.${more}`;
    live = true;
  }

  /** Empty charts, and why: the range asked for has no answer. */
  function noChart(properties: string[], why: string) {
    chart.set(
      properties.map((property) => ({ property, points: [] })),
      null,
    );
    $("chart-source").textContent = "";
    $("chart-error").textContent = why;
  }

  return {
    /** Charts these numeric properties of the device. */
    show(id: string, numeric: string[]) {
      shown = { id, numeric };
      return load();
    },
    /** A live report's numeric values, added where the charts take live values. */
    live(id: string, values: Record<string, number>, ts: number) {
      if (!live || shown?.id !== id) return;
      for (const [name, value] of Object.entries(values)) chart.add(name, { ts, value });
    },
  };
}

/** The range the picker asks for (a preset ends now, so live values go on it); null for a custom one not filled in. */
function pickedRange(): (Range & { live: boolean }) | null {
  const picked = $("chart-controls").querySelector<HTMLInputElement>('input[name="chart-range"]:checked')!.value;
  const from = $<HTMLInputElement>("chart-from");
  const to = $<HTMLInputElement>("chart-to");
  const preset = presetRange(picked, Date.now());
  if (preset) {
    // The ends show what a preset asked for: where a custom range starts from.
    from.value = localInput(preset.from);
    to.value = localInput(preset.to);
    return { ...preset, live: true };
  }
  const custom = customRange(from.value, to.value);
  return custom && { ...custom, live: false };
}
