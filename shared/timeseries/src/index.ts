export { reportPoints } from "./points";
export { createInfluxWriter } from "./influx-writer";
export { AGGREGATES, createInfluxQuery, type Aggregate, type InfluxQuery, type PropertySeries } from "./influxql";
export type { Point } from "@influxdata/influxdb-client";
