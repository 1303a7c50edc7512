import { ApiError } from "./api";
import { $, el } from "./dom";
import { operationLine, progressFigure, rolloutLine, statusBadge, targetLine, waveLine } from "./job-figures";
import * as rest from "./jobs-api";
import { type Execution, type Job, type JobAction, type JobProgress, type JobStatus, notStale } from "./jobs-api";

/** Executions read at a time; "more" reads the next page. */
const PAGE = 100;
/** A burst of `job.progress` events reads the executions shown again once, this long after the first. */
const REFRESH_MS = 1000;

/** What an operator may do to a job in each status (shared/store jobs.ts: pause, resume, cancel). */
const ACTIONS: Record<JobStatus, JobAction[]> = {
  scheduled: ["pause", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
  completed: [],
  cancelled: [],
  aborted: [],
};

/**
 * A job's page: its figures, target, operation and rollout, its executions by device page by page,
 * and for operators the actions its status allows (the buttons' box is hidden from viewers; the API
 * refuses them all the same). `job.progress` events keep the figures current and read the executions
 * shown again.
 */
export function jobDetail() {
  let job: Job | null = null;
  const executions = new Map<string, Execution>();
  /** Where each page read so far started (null: the first), to read the same pages again. */
  let starts: (string | null)[] = [];
  let next: string | null = null;
  /** Counts opens and closes: an answer for a job no longer shown is dropped. */
  let opens = 0;
  let refresh: ReturnType<typeof setTimeout> | undefined;

  $("execution-more").addEventListener("click", () => void more());

  async function open(id: string) {
    close();
    const open = opens;
    executions.clear();
    $("job-title").textContent = "";
    $("job-error").textContent = "";
    $("job-action-error").textContent = "";
    $("job-figures").replaceChildren();
    $("job-actions").replaceChildren();
    $("executions").querySelector("tbody")!.replaceChildren();
    $("execution-more").hidden = true;
    try {
      const [read, page] = await Promise.all([rest.job(id), rest.executionPage(id, null, PAGE)]);
      if (open !== opens) return;
      job = read;
      starts = [null];
      showJob();
      showExecutions([page]);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status === 401) throw err;
      if (open === opens) $("job-error").textContent = `The API could not show the job: ${err.message}`;
    }
  }

  async function more() {
    if (!job || next === null) return;
    const [open, after] = [opens, next];
    const button = $<HTMLButtonElement>("execution-more");
    button.disabled = true;
    try {
      const page = await rest.executionPage(job.id, after, PAGE);
      if (open !== opens) return;
      starts.push(after);
      showExecutions([page], false);
    } finally {
      button.disabled = false;
    }
  }

  /** The pages shown so far, read again: their executions moved on. */
  async function reread() {
    if (!job) return;
    const open = opens;
    const pages = await Promise.all(starts.map((after) => rest.executionPage(job!.id, after, PAGE)));
    if (open === opens) showExecutions(pages);
  }

  function showExecutions(pages: rest.Page<Execution>[], replace = true) {
    if (replace) executions.clear();
    for (const page of pages) for (const e of page.items) executions.set(e.deviceId, e);
    next = pages.at(-1)!.nextCursor;
    const rows = [...executions.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1)).map(executionRow);
    $("executions")
      .querySelector("tbody")!
      .replaceChildren(...rows);
    $("execution-more").hidden = next === null;
  }

  function showJob() {
    if (!job) return;
    $("job-title").textContent = job.name;
    $("job-figures").replaceChildren(
      ...figure("status", statusBadge(job.status)),
      ...figure("wave", waveLine(job)),
      ...figure("executions", progressFigure(job.counts)),
      ...(job.reason ? figure("reason", job.reason) : []),
      ...figure("target", el("span", { class: "mono" }, [targetLine(job.target)])),
      ...figure("operation", el("span", { class: "mono" }, [operationLine(job)])),
      ...figure("rollout", rolloutLine(job)),
      ...figure("start", new Date(job.startAt).toLocaleString()),
      ...figure("deadline", new Date(job.deadlineAt).toLocaleString()),
      ...figure("created", `${new Date(job.createdAt).toLocaleString()}${job.createdBy ? ` by ${job.createdBy}` : ""}`),
    );
    $("job-actions").replaceChildren(...ACTIONS[job.status].map(actionButton));
  }

  function actionButton(action: JobAction) {
    const button = el("button", { type: "button", "data-action": action, ...(action === "cancel" && { class: "secondary" }) }, [
      action[0]!.toUpperCase() + action.slice(1),
    ]);
    button.addEventListener("click", async () => {
      if (!job) return;
      const [open, id] = [opens, job.id];
      button.disabled = true;
      try {
        const answer = await rest.jobAction(id, action);
        $("job-action-error").textContent = "";
        if (open === opens) update(answer);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        $("job-action-error").textContent = `Could not ${action} the job: ${err.message}`;
        // A 409 says the page shows a state the job left: show the one it is in.
        if (err.status === 409 && open === opens) update(await rest.job(id));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function update(state: JobProgress) {
    if (!job || state.id !== job.id || !notStale(state, job)) return;
    job = { ...job, ...state };
    showJob();
  }

  /** Leaves the job: answers and events that come later are not for this page. */
  function close() {
    opens++;
    job = null;
    clearTimeout(refresh);
    refresh = undefined;
  }

  return {
    open,
    close,
    /** A job's state from a `job.progress` event. */
    progress(state: JobProgress) {
      if (!job || state.id !== job.id) return;
      update(state);
      refresh ??= setTimeout(() => {
        refresh = undefined;
        // A refused read (the token expired, say) is made good by the next event or the next open.
        reread().catch((err) => {
          if (!(err instanceof ApiError)) throw err;
        });
      }, REFRESH_MS);
    },
  };
}

const figure = (name: string, value: Node | string) => [el("dt", {}, [name]), el("dd", { "data-figure": name }, [value])];

const executionRow = (e: Execution) =>
  el("tr", { "data-device": e.deviceId }, [
    el("td", {}, [el("a", { class: "mono", href: `#/devices/${encodeURIComponent(e.deviceId)}` }, [e.deviceId])]),
    el("td", { class: "count" }, [String(e.wave + 1)]),
    el("td", { title: e.nextAttemptAt ? `next attempt ${new Date(e.nextAttemptAt).toLocaleString()}` : "" }, [statusBadge(e.status)]),
    el("td", { class: "count" }, [e.progress === null ? "" : `${e.progress} %`]),
    el("td", { class: "count" }, [String(e.attempts)]),
    el("td", {}, [e.reason ?? ""]),
    el("td", { class: "mono" }, [e.commandId ?? ""]),
  ]);
