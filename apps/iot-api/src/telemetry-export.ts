import type { StoredValue } from "@umos/timeseries";

/**
 * A telemetry export's body: every stored value of the range as CSV or JSON lines, read from the
 * store a batch at a time as the client takes them, so a year of raw points never sits in memory.
 */
export function exportResponse(deviceId: string, rows: AsyncIterable<StoredValue[]>, events: boolean, format: "csv" | "ndjson"): Response {
  const header = format === "csv" ? `${events ? "time,event,data" : "time,property,value,text"}\n` : "";
  const line = format === "csv" ? (v: StoredValue) => csvLine(v, events) : (v: StoredValue) => `${JSON.stringify(jsonLine(v, events))}\n`;
  return new Response(streamLines(header, rows, line), {
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
      "content-disposition": `attachment; filename="${encodeURIComponent(deviceId)}-${events ? "events" : "telemetry"}.${format}"`,
    },
  });
}

/** An event's data as stored (JSON text), as the device sent it. */
export function parseData(text: string | null): unknown {
  try {
    return text === null ? null : JSON.parse(text);
  } catch {
    return text;
  }
}

/** A body of lines read a batch at a time from the store, as the client takes them. */
function streamLines(header: string, rows: AsyncIterable<StoredValue[]>, line: (v: StoredValue) => string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const batches = rows[Symbol.asyncIterator]();
  return new ReadableStream({
    start(controller) {
      if (header) controller.enqueue(encoder.encode(header));
    },
    // A failure half-way ends the body without its last chunk: the client sees a cut transfer, not a short file that looks whole.
    async pull(controller) {
      const next = await batches.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value.map(line).join("")));
    },
    async cancel() {
      await batches.return?.();
    },
  });
}

function jsonLine(v: StoredValue, events: boolean) {
  const ts = new Date(v.ts).toISOString();
  return events ? { ts, event: v.name, data: parseData(v.text) } : { ts, property: v.name, value: v.value, text: v.text };
}

function csvLine(v: StoredValue, events: boolean): string {
  const ts = new Date(v.ts).toISOString();
  return events ? `${ts},${csvText(v.name)},${csvText(v.text ?? "")}\n` : `${ts},${csvText(v.name)},${v.value ?? ""},${csvText(v.text ?? "")}\n`;
}

/**
 * A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text a spreadsheet
 * would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe (OWASP, CSV injection).
 */
export function csvText(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
