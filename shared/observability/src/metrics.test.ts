import { expect, test } from "bun:test";
import { createMetrics } from "./metrics";

test("the seed's four metrics and real process metrics are exposed, labelled with the service", async () => {
  const metrics = createMetrics("iot-test");
  metrics.httpRequests.inc({ method: "GET", route: "/x", status: "200" });
  metrics.busMessages("rabbitmq")("consume", "device", "ok");
  metrics.countDevicesActive(() => 3);
  const text = await (await metrics.response()).text();
  for (const name of ["iot_http_requests_total", "iot_http_request_duration_seconds", "iot_rabbitmq_messages_total", "iot_devices_active"]) {
    expect(text).toContain(`# TYPE ${name}`);
  }
  expect(text).toContain('iot_devices_active{service="iot-test"} 3');
  expect(text).toMatch(/process_resident_memory_bytes\{service="iot-test"\} [1-9]/);
  expect(text).toMatch(/process_cpu_seconds_total\{service="iot-test"\} [0-9.]+/);
  expect(text).not.toContain("nodejs_heap_space");
});

test("messages counted on the bus show in iot_rabbitmq_messages_total at every scrape, summed", async () => {
  const metrics = createMetrics("iot-test");
  const scrape = async () => (await (await metrics.response()).text()).split("\n").filter((l) => l.startsWith("iot_rabbitmq_messages_total{"));
  const count = metrics.busMessages("rabbitmq");
  for (let i = 0; i < 3; i++) count("publish", "event", "ok");
  count("consume", "device", "dead_lettered");
  expect(await scrape()).toEqual([
    'iot_rabbitmq_messages_total{direction="publish",stage="event",outcome="ok",service="iot-test"} 3',
    'iot_rabbitmq_messages_total{direction="consume",stage="device",outcome="dead_lettered",service="iot-test"} 1',
  ]);
  count("publish", "event", "ok");
  expect(await scrape()).toContain('iot_rabbitmq_messages_total{direction="publish",stage="event",outcome="ok",service="iot-test"} 4');
});

test("each name says one thing: the embedded bus is not counted as RabbitMQ, devices seen are not devices online", async () => {
  const metrics = createMetrics("iot-edge");
  metrics.busMessages("umos_embedded")("publish", "event", "ok");
  metrics.countDevicesSeen(() => 2);
  const text = await (await metrics.response()).text();
  expect(text).toContain('iot_embedded_bus_messages_total{direction="publish",stage="event",outcome="ok",service="iot-edge"} 1');
  expect(text).toContain('iot_devices_seen{service="iot-edge"} 2');
  expect(text).not.toContain("iot_rabbitmq_messages_total");
  expect(text).not.toContain("iot_devices_active");
});
