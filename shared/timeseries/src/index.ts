export { reportPoints } from "./points";
export { createInfluxWriter } from "./influx-writer";
export { AGGREGATES, createInfluxQuery, type InfluxQuery, type Window } from "./influxql";
export type { Point } from "@influxdata/influxdb-client";
