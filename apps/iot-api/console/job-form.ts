import { ApiError } from "./api";
import { $ } from "./dom";
import * as rest from "./jobs-api";
import type { Job, JobOperation, NewJob } from "./jobs-api";
import { packagePicker } from "./package-picker";

/** The new job form's fields as typed; empty numbers leave the API's defaults. */
export interface JobFields {
  name: string;
  targetKind: "query" | "group";
  target: string;
  operationKind: "service" | "property" | "firmware";
  service: string;
  params: string;
  /** The firmware packages ticked, by id. */
  packages: string[];
  ratePerMinute: string;
  maxInFlight: string;
  /** Devices in a first wave of their own; the second takes the rest. */
  canary: string;
  failurePercent: string;
  minFinished: string;
  retries: string;
}

/** The fields typed into inputs; the packages are ticked. */
const FIELD_IDS: Record<Exclude<keyof JobFields, "packages">, string> = {
  name: "job-name",
  targetKind: "job-target-kind",
  target: "job-target",
  operationKind: "job-operation-kind",
  service: "job-service",
  params: "job-params",
  ratePerMinute: "job-rate",
  maxInFlight: "job-in-flight",
  canary: "job-canary",
  failurePercent: "job-abort-percent",
  minFinished: "job-abort-min",
  retries: "job-retries",
};

/**
 * The new job form, for operators (POST /api/v1/jobs): a query or a group, a service call, a
 * property set or a firmware update, and the rollout's pace, canary, abort threshold and retries.
 * What the form can tell is wrong it says itself; otherwise the API's refusal is shown.
 */
export function jobForm(created: (job: Job) => void) {
  const form = $<HTMLFormElement>("job-form");
  const picker = packagePicker();
  form.addEventListener("submit", (event) => void submit(event));
  $("job-operation-kind").addEventListener("change", showOperation);
  form.addEventListener("reset", () => setTimeout(showOperation));

  async function submit(event: Event) {
    event.preventDefault();
    const typed = Object.fromEntries(Object.entries(FIELD_IDS).map(([key, id]) => [key, $<HTMLInputElement>(id).value.trim()]));
    const fields = { ...typed, packages: picker.packages() } as unknown as JobFields;
    const body = jobRequest(fields);
    if (typeof body === "string") {
      $("job-form-error").textContent = body;
      return;
    }
    const button = $<HTMLButtonElement>("job-save");
    button.disabled = true;
    try {
      const job = await rest.createJob(body);
      $("job-form-error").textContent = "";
      form.reset();
      created(job);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $("job-form-error").textContent = `The API refused the job: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  }

  /**
   * A property set has no service name, and its JSON is the values rather than the call's params; a
   * firmware update has neither, but the packages to choose from.
   */
  function showOperation() {
    const kind = $<HTMLSelectElement>("job-operation-kind").value as JobFields["operationKind"];
    $("job-service-field").hidden = kind !== "service";
    $<HTMLInputElement>("job-service").required = kind === "service";
    $("job-params-field").hidden = kind === "firmware";
    $("job-params-label").textContent = kind === "service" ? "params (JSON)" : "properties (JSON)";
    $("job-packages-field").hidden = kind !== "firmware";
    if (kind === "firmware") void picker.load();
  }
}

/** The request the fields make, or what is wrong with them. */
export function jobRequest(fields: JobFields): NewJob | string {
  const operation = operationOf(fields);
  if (typeof operation === "string") return operation;
  if (!fields.target) return fields.targetKind === "query" ? "give a device query" : "give a group id";
  if ((fields.failurePercent === "") !== (fields.minFinished === ""))
    return "the abort threshold takes both a failure percentage and how many finished executions it waits for";
  const [ratePerMinute, maxInFlight, canary, minFinished, retries] = [
    fields.ratePerMinute,
    fields.maxInFlight,
    fields.canary,
    fields.minFinished,
    fields.retries,
  ].map(whole);
  const failurePercent = fields.failurePercent === "" ? undefined : Number(fields.failurePercent);
  if ([ratePerMinute, maxInFlight, canary, minFinished, retries].some(Number.isNaN)) return "the rollout's counts must be whole numbers";
  if (Number.isNaN(failurePercent)) return "the abort's failure percentage must be a number";
  return {
    name: fields.name,
    target: fields.targetKind === "query" ? { query: fields.target } : { group: fields.target },
    operation,
    rollout: {
      ...(ratePerMinute !== undefined && { ratePerMinute }),
      ...(maxInFlight !== undefined && { maxInFlight }),
      ...(canary !== undefined && { waves: [{ devices: canary }, { percent: 100 }] }),
      ...(failurePercent !== undefined && minFinished !== undefined && { abort: { failurePercent, minFinished } }),
      ...(retries !== undefined && { retries }),
    },
  };
}

/** The operation the fields make, or what is wrong with them. */
function operationOf(fields: JobFields): JobOperation | string {
  if (fields.operationKind === "firmware")
    return fields.packages.length > 0 ? { kind: "firmware", packages: fields.packages } : "tick the firmware packages to install";
  const params = jsonObject(fields.params || "{}");
  if (params === null) return `${fields.operationKind === "service" ? "params" : "properties"} must be a JSON object, e.g. {"minutes": 30}`;
  if (fields.operationKind === "property")
    return Object.keys(params).length > 0 ? { kind: "property", params } : 'properties: name at least one, e.g. {"target": 21}';
  return fields.service ? { kind: "service", service: fields.service, params } : "name the service to call";
}

/** A whole number, undefined for an empty field, NaN for anything else. */
const whole = (text: string) => (text === "" ? undefined : /^\d+$/.test(text) ? Number(text) : Number.NaN);

function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
