export { reportPoints } from "./points";
export { createInfluxWriter } from "./influx-writer";
export { createInfluxQuery, type InfluxQuery } from "./influxql";
export type { Point } from "@influxdata/influxdb-client";
