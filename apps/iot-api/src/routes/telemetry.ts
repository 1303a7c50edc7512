import { Elysia, t } from "elysia";
import { needs } from "../access";
import { UmosError, type Clock } from "@umos/core";
import type { DeviceRepository } from "@umos/store";
import type { InfluxQuery } from "@umos/timeseries";
import { ErrorBody } from "../schemas";
import { DURATION_PATTERN, resolveWindow, type WindowLimits } from "../telemetry-window";

// Not t.UnionEnum: Elysia 1.4 fills an omitted optional UnionEnum query parameter with its first member.
const Aggregate = t.Union([t.Literal("mean"), t.Literal("min"), t.Literal("max"), t.Literal("last"), t.Literal("count")], {
  description: "how each window's values are combined (default mean); booleans count as 1 and 0",
});

const Series = t.Object({
  deviceId: t.String(),
  property: t.String(),
  fn: t.String(),
  every: t.String(),
  from: t.Date(),
  to: t.Date(),
  points: t.Array(t.Object({ ts: t.Date({ description: "the window's start" }), value: t.Number() })),
});

/** `null` query: telemetry is not configured, and the endpoint says so instead of pretending there is no data. */
export function telemetryRoutes(devices: DeviceRepository, influx: InfluxQuery | null, clock: Clock, limits: WindowLimits) {
  return new Elysia({ prefix: "/devices", tags: ["telemetry"] }).get(
    "/:id/telemetry",
    async ({ params, query }) => {
      if (!influx) {
        throw new UmosError("not_configured", "telemetry is not configured on this server: set influx.url (UMOS_INFLUX__URL), see docs/telemetry.md", false);
      }
      await devices.get(params.id);
      const window = resolveWindow(query, limits, clock.now());
      const fn = query.fn ?? "mean";
      const points = await influx.windows({ deviceId: params.id, property: query.property, fn, ...window });
      return {
        deviceId: params.id,
        property: query.property,
        fn,
        every: window.every,
        from: new Date(window.fromMs),
        to: new Date(window.toMs),
        points: points.map((p) => ({ ts: new Date(p.ts), value: p.value })),
      };
    },
    {
      params: t.Object({ id: t.String() }),
      query: t.Object({
        property: t.String({ minLength: 1, maxLength: 256, description: "a reported property; nested ones by dotted path, e.g. battery.capacity_percent" }),
        from: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch; default: an hour before to" })),
        to: t.Optional(t.String({ description: "RFC 3339 or ms since the epoch, exclusive; default: now" })),
        every: t.Optional(t.String({ pattern: DURATION_PATTERN, description: "window size, e.g. 30s, 5m, 1h, 1d; default: at most 300 windows" })),
        fn: t.Optional(Aggregate),
      }),
      response: { 200: Series, 400: ErrorBody, 404: ErrorBody, 501: ErrorBody, 503: ErrorBody },
      detail: needs("viewer", { summary: "A property of the device as a time series: one aggregate per window, windows without data left out" }),
    },
  );
}
