import * as hdr from "hdr-histogram-js";

/** Latency in milliseconds; percentiles read from an HDR histogram (3 significant digits). */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Collects latencies in microseconds up to a minute, so a stalled phase still records instead of throwing. */
export function latencyRecorder() {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
  return {
    /** One latency in milliseconds (fractions kept to the microsecond). */
    record(ms: number): void {
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    get count(): number {
      return histogram.totalCount;
    },
    summary(): LatencySummary {
      const ms = (us: number) => us / 1000;
      return {
        count: histogram.totalCount,
        p50: ms(histogram.getValueAtPercentile(50)),
        p95: ms(histogram.getValueAtPercentile(95)),
        p99: ms(histogram.getValueAtPercentile(99)),
        max: ms(histogram.maxValue),
      };
    },
  };
}

export type LatencyRecorder = ReturnType<typeof latencyRecorder>;
