import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { InvalidInputError, UnavailableError, silentLogger } from "@umos/core";
import { eventually, freePort, INFLUXDB_URL, startVictoriaMetrics, type TestVictoriaMetrics } from "@umos/testkit";
import { createInfluxWriter } from "./influx-writer";
import { reportPoints } from "./points";

/** The write path against VictoriaMetrics, which speaks InfluxDB's /api/v2/write as the official client sends it. */
let vm: TestVictoriaMetrics;

beforeAll(async () => {
  vm = await startVictoriaMetrics();
}, 20_000);

afterAll(async () => {
  await vm.dispose();
});

const target = (url: string) => ({ url, org: "umos", bucket: "umos", timeoutMs: 2000 });
const ts = 1_750_000_000_000;

describe("writing points", () => {
  test("property and event points land with their tags, values and the message's own timestamp", async () => {
    const writer = createInfluxWriter(target(vm.url), silentLogger);
    const report = {
      id: "m-1",
      ts,
      vendor: "generic" as const,
      deviceId: "w-1",
      kind: "property.report",
      data: { temperature: 21.5, heating: true, battery: { level: 80 } },
    };
    const event = { ...report, id: "m-2", ts: ts + 1, kind: "event.report", data: { event: "window_open", data: { room: "kitchen" } } };
    await writer.write([...reportPoints(report, "thermostat"), ...reportPoints(event, "thermostat")]);

    // VictoriaMetrics names a series {measurement}_{field} and keeps the tags as labels.
    const values = await eventually(
      async () => {
        const series = await vm.samples('{__name__="device_property_value",device="w-1"}');
        return series.length === 3 ? series : undefined;
      },
      10_000,
      "three property series",
    );
    const byProperty = Object.fromEntries(values.map((s) => [s.metric.property, s]));
    expect(byProperty.temperature).toEqual({
      metric: { __name__: "device_property_value", device: "w-1", vendor: "generic", model: "thermostat", property: "temperature" },
      values: [21.5],
      timestamps: [ts],
    });
    expect(byProperty.heating!.values).toEqual([1]);
    expect(byProperty["battery.level"]!.values).toEqual([80]);
    const [occurrence] = await vm.samples('{__name__="device_event_value",device="w-1"}');
    expect(occurrence).toMatchObject({ metric: { event: "window_open", model: "thermostat" }, values: [1], timestamps: [ts + 1] });
  }, 15_000);

  test("a server that is down is a retryable failure, named with its address", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const failure = await createInfluxWriter(target(closed), silentLogger)
      .write(reportPoints({ id: "m", ts, vendor: "generic", deviceId: "w-2", kind: "property.report", data: { t: 1 } }, null))
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as Error).message).toContain(closed);
  });

  test("a server without the v2 write API (InfluxDB 1.6) is retryable and says why, not a refusal of the points", async () => {
    const failure = await createInfluxWriter(target(INFLUXDB_URL), silentLogger)
      .write(reportPoints({ id: "m", ts, vendor: "generic", deviceId: "w-3", kind: "property.report", data: { t: 1 } }, null))
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect(failure).not.toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toContain("InfluxDB 1.8+ has it");
  });
});
