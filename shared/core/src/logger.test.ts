import { expect, test } from "bun:test";
import { createLogger } from "./logger";

test("JSON logs: one object per line with service, level, message, fields and the context of the moment", () => {
  const lines: string[] = [];
  let request = "r1";
  const log = createLogger("iot-uplink", { format: "json", write: (line) => lines.push(line), context: () => ({ request }) }).child("telemetry");
  log.info("first", { n: 1, err: new Error("kept as its message") });
  request = "r2";
  log.debug("dropped below the level");
  log.warn("second");
  const [first, second] = lines.map((line) => JSON.parse(line));
  expect(lines.length).toBe(2);
  expect(first).toMatchObject({
    level: "info",
    service: "iot-uplink",
    name: "iot-uplink:telemetry",
    msg: "first",
    n: 1,
    err: "kept as its message",
    request: "r1",
  });
  expect(second).toMatchObject({ level: "warn", msg: "second", request: "r2" });
});
