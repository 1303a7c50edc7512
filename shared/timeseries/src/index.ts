export * from "./types";
export { reportPoints } from "./points";
export { createInfluxWriter, toInfluxPoint, type InfluxTarget } from "./influx-writer";
export { createInfluxQuery } from "./influxql";
export { createInfluxTimeSeries } from "./influx";
export { createPostgresTimeSeries, dropPointsDay, markWritten, POINTS_TABLE, ROLLUPS, type PostgresTimeSeriesOptions } from "./postgres";
export { rollupJob, runRollups, type RollupRun } from "./rollups";
export { listPartitions, dropPartition, ensurePartitions, partitionOf, type Partition, type PartitionUnit } from "./partitions";
export { openTimeSeries, timeSeriesKind, type TimeSeriesKind, type TimeSeriesSettings } from "./open";
