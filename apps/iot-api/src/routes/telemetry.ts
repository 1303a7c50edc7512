import { Elysia, t } from "elysia";
import { needs } from "../access";
import { UmosError, type Clock } from "@umos/core";
import type { DeviceRepository } from "@umos/store";
import { AGGREGATES, type TimeSeriesReader, type Window } from "@umos/timeseries";
import { ErrorBody } from "../schemas";
import { exportResponse, parseData } from "../telemetry-export";
import { DURATION_PATTERN, resolveWindow, type ResolvedWindow, type WindowLimits, type WindowRequest } from "../telemetry-window";

// Not t.UnionEnum: Elysia 1.4 fills an omitted optional UnionEnum query parameter with its first member.
const Aggregate = t.Union(
  AGGREGATES.map((fn) => t.Literal(fn)),
  { description: "how each window's values are combined (default mean; spread is max - min); booleans count as 1 and 0" },
);
/** Properties one series request may name; event names one events request may name. */
const MAX_PROPERTIES = 10;
const MAX_EVENTS = 10;
/** Event names an events request without names answers with (in name order). */
const EVENTS_WITHOUT_NAMES = 20;
const PropertyName = t.String({ minLength: 1, maxLength: 256, description: "a reported property; nested ones by dotted path, e.g. battery.capacity_percent" });
const Points = t.Array(t.Object({ ts: t.Date({ description: "the window's start" }), value: t.Number() }));

const Series = t.Object({
  deviceId: t.String(),
  property: t.String(),
  fn: t.String(),
  every: t.String(),
  from: t.Date(),
  to: t.Date(),
  points: Points,
});

const SeriesSet = t.Object({
  deviceId: t.String(),
  fn: t.String(),
  every: t.String(),
  from: t.Date(),
  to: t.Date(),
  series: t.Array(t.Object({ property: t.String(), points: Points })),
});

const EventCountSet = t.Object({
  deviceId: t.String(),
  every: t.String(),
  from: t.Date(),
  to: t.Date(),
  series: t.Array(t.Object({ event: t.String(), points: t.Array(t.Object({ ts: t.Date({ description: "the window's start" }), count: t.Integer() })) })),
  more: t.Boolean({ description: `no event named: the device reported more than ${EVENTS_WITHOUT_NAMES} event names in the range; name the ones you want` }),
});

const WindowParams = {
  from: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch; default: an hour before to" })),
  to: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch, exclusive; default: now" })),
  every: t.Optional(t.String({ pattern: DURATION_PATTERN, description: "window size, e.g. 30s, 5m, 1h, 1d; default: at most 300 windows" })),
  fn: t.Optional(Aggregate),
};

/** Values and events one list answers at most, and without `limit`. */
const MAX_LIST = 1000;
const DEFAULT_LIST = 100;

const Names = (what: string) =>
  t.Optional(
    t.Array(t.String({ minLength: 1, maxLength: 256 }), {
      maxItems: MAX_PROPERTIES,
      description: `up to ${MAX_PROPERTIES} ${what} (repeat the parameter); none: all`,
    }),
  );

const RangeParams = {
  from: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch; default: an hour before to" })),
  to: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch, exclusive; default: now" })),
};

const ListParams = {
  ...RangeParams,
  limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_LIST, description: `default ${DEFAULT_LIST}` })),
};

const ValueList = t.Object({
  deviceId: t.String(),
  from: t.Date(),
  to: t.Date(),
  values: t.Array(
    t.Object({
      ts: t.Date(),
      property: t.String(),
      value: t.Nullable(t.Number({ description: "numbers; booleans as 1 and 0" })),
      text: t.Nullable(t.String({ description: "strings; arrays and deeper objects as JSON" })),
    }),
  ),
});

const EventList = t.Object({
  deviceId: t.String(),
  from: t.Date(),
  to: t.Date(),
  events: t.Array(t.Object({ ts: t.Date(), event: t.String(), data: t.Unknown({ description: "the event's data as the device sent it" }) })),
});

/** `null` store: telemetry is not configured, and the endpoint says so instead of pretending there is no data. */
export function telemetryRoutes(devices: DeviceRepository, store: TimeSeriesReader | null, clock: Clock, limits: WindowLimits) {
  const configured = (): TimeSeriesReader => {
    if (store) return store;
    throw new UmosError(
      "not_configured",
      "telemetry is not configured on this server: set timeseries.kind (UMOS_TIMESERIES__KIND), see docs/telemetry.md",
      false,
    );
  };
  /** A device's stored values (or events) in the range asked, newest first: the lists' common part. */
  const listOf = async (deviceId: string, series: "property" | "event", names: string[] | undefined, query: { from?: string; to?: string; limit?: number }) => {
    const store = configured();
    await devices.get(deviceId);
    const range = rangeFor(query);
    const rows = await store.points({ deviceId, series, names: [...new Set(names ?? [])], limit: query.limit ?? DEFAULT_LIST, ...range });
    return { deviceId, from: new Date(range.fromMs), to: new Date(range.toMs), rows };
  };
  /** A range without windows: only its length is limited. */
  const rangeFor = (query: { from?: string; to?: string }) =>
    resolveWindow({ ...query, every: undefined }, { ...limits, maxPoints: Number.MAX_SAFE_INTEGER }, clock.now());
  /** The windows of an answer of `names` series: the limit holds for the whole answer, windows times names. */
  const windowFor = (query: WindowRequest, names: number) =>
    resolveWindow(query, { ...limits, maxPoints: Math.max(1, Math.floor(limits.maxPoints / names)) }, clock.now());
  const span = (window: ResolvedWindow) => ({ every: window.every, from: new Date(window.fromMs), to: new Date(window.toMs) });
  const points = (windows: Window[]) => windows.map((p) => ({ ts: new Date(p.ts), value: p.value }));
  return new Elysia({ prefix: "/devices", tags: ["telemetry"] })
    .get(
      "/:id/telemetry",
      async ({ params, query }) => {
        const store = configured();
        await devices.get(params.id);
        const window = windowFor(query, 1);
        const fn = query.fn ?? "mean";
        const windows = await store.windows({ deviceId: params.id, property: query.property, fn, ...window });
        return { deviceId: params.id, property: query.property, fn, ...span(window), points: points(windows) };
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({ property: PropertyName, ...WindowParams }),
        response: { 200: Series, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", { summary: "A property of the device as a time series: one aggregate per window, windows without data left out" }),
      },
    )
    .get(
      "/:id/telemetry/series",
      async ({ params, query }) => {
        const store = configured();
        await devices.get(params.id);
        const properties = [...new Set(query.property)];
        const window = windowFor(query, properties.length);
        const fn = query.fn ?? "mean";
        const series = await store.series({ deviceId: params.id, properties, fn, ...window });
        return { deviceId: params.id, fn, ...span(window), series: series.map((s) => ({ property: s.property, points: points(s.windows) })) };
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({
          property: t.Array(PropertyName, { minItems: 1, maxItems: MAX_PROPERTIES, description: `one to ${MAX_PROPERTIES} properties: repeat the parameter` }),
          ...WindowParams,
        }),
        response: { 200: SeriesSet, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", {
          summary: "Several properties of the device over the same windows, in the order asked; windows times properties at most timeseries.maxQueryPoints",
        }),
      },
    )
    .get(
      "/:id/telemetry/events",
      async ({ params, query }) => {
        const store = configured();
        await devices.get(params.id);
        const events = [...new Set(query.event ?? [])];
        const window = windowFor(query, events.length > 0 ? events.length : EVENTS_WITHOUT_NAMES);
        const counts = await store.eventCounts({ deviceId: params.id, events, maxEvents: EVENTS_WITHOUT_NAMES, ...window });
        return {
          deviceId: params.id,
          ...span(window),
          series: counts.series.map((s) => ({ event: s.event, points: s.windows.map((p) => ({ ts: new Date(p.ts), count: p.value })) })),
          more: counts.more,
        };
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({
          event: t.Optional(
            t.Array(t.String({ minLength: 1, maxLength: 256 }), {
              maxItems: MAX_EVENTS,
              description: `up to ${MAX_EVENTS} event names (repeat the parameter); none: every event the device reported, up to ${EVENTS_WITHOUT_NAMES} names`,
            }),
          ),
          from: WindowParams.from,
          to: WindowParams.to,
          every: WindowParams.every,
        }),
        response: { 200: EventCountSet, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", {
          summary: "How often the device reported each event, per window; windows without one left out; windows times names at most timeseries.maxQueryPoints",
        }),
      },
    )
    .get(
      "/:id/telemetry/values",
      async ({ params, query }) => {
        const { rows, ...head } = await listOf(params.id, "property", query.property, query);
        return { ...head, values: rows.map((v) => ({ ts: new Date(v.ts), property: v.name, value: v.value, text: v.text })) };
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({ property: Names("properties"), ...ListParams }),
        response: { 200: ValueList, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", { summary: "The values the device reported, text and numbers alike, newest first: a status string's last values" }),
      },
    )
    .get(
      "/:id/telemetry/event-list",
      async ({ params, query }) => {
        const { rows, ...head } = await listOf(params.id, "event", query.event, query);
        return { ...head, events: rows.map((e) => ({ ts: new Date(e.ts), event: e.name, data: parseData(e.text) })) };
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({ event: Names("event names"), ...ListParams }),
        response: { 200: EventList, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", { summary: "The events the device reported in the range, with their data, newest first" }),
      },
    )
    .get(
      "/:id/telemetry/export",
      async ({ params, query }) => {
        const store = configured();
        await devices.get(params.id);
        const range = rangeFor(query);
        const events = query.series === "event";
        const rows = store.export({ deviceId: params.id, series: events ? "event" : "property", names: [...new Set(query.name ?? [])], ...range });
        return exportResponse(params.id, rows, events, query.format ?? "csv");
      },
      {
        params: t.Object({ id: t.String() }),
        query: t.Object({
          series: t.Optional(t.Union([t.Literal("property"), t.Literal("event")], { description: "property values (default) or events" })),
          name: Names("property or event names"),
          ...RangeParams,
          format: t.Optional(t.Union([t.Literal("csv"), t.Literal("ndjson")], { description: "csv (default) or JSON lines" })),
        }),
        response: { 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
        detail: needs("viewer", {
          summary: "Every stored value (or event) of the range in time order, streamed as CSV or JSON lines: a year of raw points without loading it in memory",
        }),
      },
    );
}
