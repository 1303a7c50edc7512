import { $, el } from "./dom";
import { progressFigure, statusBadge, waveLine } from "./job-figures";
import * as rest from "./jobs-api";
import { type JobProgress, notStale } from "./jobs-api";
import { ago } from "./values";

/** Jobs read at a time; "more" reads the next page. */
const PAGE = 50;

/**
 * The jobs page: every job newest first, page by page, with its status, wave and executions per
 * status, kept current by `job.progress` events; the page reads the list afresh each time it opens,
 * which makes good what happened while it was closed.
 */
export function jobsView() {
  /** By id: UUIDv7, so the newest sorts last. */
  const shown = new Map<string, JobProgress>();
  let next: string | null = null;
  let open = false;
  /** Counts loads: an answer to one that a later one replaced is dropped. */
  let loads = 0;

  $("job-more").addEventListener("click", () => void more());

  async function load() {
    const load = ++loads;
    const page = await rest.jobPage(null, PAGE);
    if (load !== loads || !open) return;
    shown.clear();
    add(page);
  }

  async function more() {
    const load = loads;
    const button = $<HTMLButtonElement>("job-more");
    button.disabled = true;
    try {
      const page = await rest.jobPage(next, PAGE);
      if (load === loads && open) add(page);
    } finally {
      button.disabled = false;
    }
  }

  function add(page: rest.Page<JobProgress>) {
    for (const job of page.items) shown.set(job.id, job);
    next = page.nextCursor;
    render();
  }

  function render() {
    const jobs = [...shown.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
    $("jobs")
      .querySelector("tbody")!
      .replaceChildren(...jobs.map(row));
    $("job-more").hidden = next === null;
    $("job-count").textContent = next === null ? String(jobs.length) : `the latest ${jobs.length}`;
  }

  /** Whether a job not shown belongs among the pages read: newer than the last shown, or all were read. */
  const within = (id: string) => next === null || [...shown.keys()].some((shownId) => shownId < id);

  return {
    async open() {
      open = true;
      await load();
    },
    close() {
      open = false;
    },
    /** A job's state from a `job.progress` event. */
    progress(job: JobProgress) {
      if (!open || !(shown.has(job.id) || within(job.id)) || !notStale(job, shown.get(job.id))) return;
      shown.set(job.id, { ...shown.get(job.id), ...job });
      render();
    },
    /** A job just created: its first state, unless an event already told a later one. */
    created(job: JobProgress) {
      if (!open || shown.has(job.id)) return;
      shown.set(job.id, job);
      render();
    },
  };
}

const row = (job: JobProgress) =>
  el("tr", { "data-job": job.id }, [
    el("td", {}, [el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, [job.name])]),
    el("td", {}, [statusBadge(job.status)]),
    el("td", { class: "count" }, [waveLine(job)]),
    el("td", {}, [progressFigure(job.counts)]),
    el("td", {}, [job.reason ?? ""]),
    el("td", { title: job.startedAt ?? "" }, [job.startedAt ? ago(job.startedAt) : "not yet"]),
  ]);
