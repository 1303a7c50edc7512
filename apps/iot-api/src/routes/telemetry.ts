import { Elysia, t } from "elysia";
import { needs } from "../access";
import { UmosError, type Clock } from "@umos/core";
import type { DeviceRepository } from "@umos/store";
import { AGGREGATES, type InfluxQuery, type Window } from "@umos/timeseries";
import { ErrorBody } from "../schemas";
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

/** `null` query: telemetry is not configured, and the endpoint says so instead of pretending there is no data. */
export function telemetryRoutes(devices: DeviceRepository, influx: InfluxQuery | null, clock: Clock, limits: WindowLimits) {
  const configured = (): InfluxQuery => {
    if (influx) return influx;
    throw new UmosError("not_configured", "telemetry is not configured on this server: set influx.url (UMOS_INFLUX__URL), see docs/telemetry.md", false);
  };
  /** The windows of an answer of `names` series: the limit holds for the whole answer, windows times names. */
  const windowFor = (query: WindowRequest, names: number) =>
    resolveWindow(query, { ...limits, maxPoints: Math.max(1, Math.floor(limits.maxPoints / names)) }, clock.now());
  const span = (window: ResolvedWindow) => ({ every: window.every, from: new Date(window.fromMs), to: new Date(window.toMs) });
  const points = (windows: Window[]) => windows.map((p) => ({ ts: new Date(p.ts), value: p.value }));
  return new Elysia({ prefix: "/devices", tags: ["telemetry"] })
    .get(
      "/:id/telemetry",
      async ({ params, query }) => {
        const influx = configured();
        await devices.get(params.id);
        const window = windowFor(query, 1);
        const fn = query.fn ?? "mean";
        const windows = await influx.windows({ deviceId: params.id, property: query.property, fn, ...window });
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
        const influx = configured();
        await devices.get(params.id);
        const properties = [...new Set(query.property)];
        const window = windowFor(query, properties.length);
        const fn = query.fn ?? "mean";
        const series = await influx.series({ deviceId: params.id, properties, fn, ...window });
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
          summary: "Several properties of the device over the same windows, in the order asked; windows times properties at most influx.maxQueryPoints",
        }),
      },
    )
    .get(
      "/:id/telemetry/events",
      async ({ params, query }) => {
        const influx = configured();
        await devices.get(params.id);
        const events = [...new Set(query.event ?? [])];
        const window = windowFor(query, events.length > 0 ? events.length : EVENTS_WITHOUT_NAMES);
        const counts = await influx.eventCounts({ deviceId: params.id, events, maxEvents: EVENTS_WITHOUT_NAMES, ...window });
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
          summary: "How often the device reported each event, per window; windows without one left out; windows times names at most influx.maxQueryPoints",
        }),
      },
    );
}
