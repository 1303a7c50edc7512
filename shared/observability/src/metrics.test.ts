import { expect, test } from "bun:test";
import { createMetrics } from "./metrics";

test("the seed's four metrics and real process metrics are exposed, labelled with the service", async () => {
  const metrics = createMetrics("iot-test");
  metrics.httpRequests.inc({ method: "GET", route: "/x", status: "200" });
  metrics.rabbitmqMessages.inc({ direction: "consumed", stage: "device", outcome: "ok" });
  metrics.devicesActive.set(3);
  const text = await (await metrics.response()).text();
  for (const name of ["iot_http_requests_total", "iot_http_request_duration_seconds", "iot_rabbitmq_messages_total", "iot_devices_active"]) {
    expect(text).toContain(`# TYPE ${name}`);
  }
  expect(text).toContain('iot_devices_active{service="iot-test"} 3');
  expect(text).toMatch(/process_resident_memory_bytes\{service="iot-test"\} [1-9]/);
  expect(text).toMatch(/process_cpu_seconds_total\{service="iot-test"\} [0-9.]+/);
  expect(text).not.toContain("nodejs_heap_space");
});
