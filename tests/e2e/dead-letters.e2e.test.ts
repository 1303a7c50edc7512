import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { HEADERS } from "@umos/contracts";
import { eventually, jsonClient, startStack, testToken, type Json, type TestStack } from "@umos/testkit";

/**
 * Dead letters as an operator works them (docs/operations.md, Dead letters): a report that breaks its device's
 * thing model dies, is found through the API with the reason naming the property, the model is
 * fixed, the dead letter replayed, and the report is processed as if it had been valid all along.
 */
let stack: TestStack;
let device: mqtt.MqttClient;

beforeAll(async () => {
  // The uplink caches a device's model version; short here so the fix is seen in test time.
  stack = await startStack({ UMOS_UPLINK__DEVICE_CACHE_MS: "100", UMOS_LOG__LEVEL: "error" });
  device = await mqtt.connectAsync(stack.broker.url, { clientId: "dl-fan", protocolVersion: 5, reconnectPeriod: 0 });
}, 60_000);

afterAll(async () => {
  await device?.endAsync(true).catch(() => {});
  await stack?.dispose();
});

const fanModel = (max: number) => ({
  properties: [{ identifier: "temperature", accessMode: "r", dataType: { type: "float", specs: { min: -40, max } } }],
});

const deadLettersOf = async (deviceId: string): Promise<Json[]> => (await stack.api.get(`/api/v1/dead-letters?deviceId=${deviceId}`)).body.items;

describe("dead letters", () => {
  test("fail, inspect, fix, replay: the report is processed and the dead letter reads replayed", async () => {
    expect((await stack.api.post("/api/v1/thing-models", { id: "dl-fan", definition: fanModel(85) })).status).toBe(201);
    expect((await stack.api.post("/api/v1/devices", { id: "dl-fan", vendor: "generic", model: { id: "dl-fan" } })).status).toBe(201);
    const app = await stack.dashboard({ devices: ["dl-fan"] });

    // Fail: 120 °C is past the model's maximum, so the report dies in the uplink queue.
    const report = JSON.stringify({ id: "hot-1", ts: 1_700_000_000_000, data: { temperature: 120 } });
    await device.publishAsync("generic/dl-fan/property/report", report, { qos: 1 });
    const [dead] = await eventually(
      async () => {
        const items = await deadLettersOf("dl-fan");
        return items.length === 1 ? items : undefined;
      },
      10_000,
      "the report dead-lettered",
    );

    // Inspect: what died, where, why, and the bytes the device sent.
    expect(dead).toMatchObject({
      queue: "iot-uplink-queue",
      code: "model_violation",
      reason: "thing model dl-fan@1: 'temperature' Expected number to be less or equal to 85 (got 120)",
      routingKey: "iot.generic.device.property.report",
      deviceId: "dl-fan",
      payload: { encoding: "utf8", data: report, truncated: false },
      size: report.length,
      replayCount: 0,
      state: "pending",
      replayedAt: null,
    });
    expect(dead.headers).toMatchObject({ [HEADERS.deviceId]: "dl-fan", [HEADERS.mqttTopic]: "generic/dl-fan/property/report" });
    const full = await stack.api.get(`/api/v1/dead-letters/${dead.id}`);
    expect(full.body.payload).toEqual({ encoding: "utf8", data: report, truncated: false });
    const byCode = await stack.api.get("/api/v1/dead-letters?queue=iot-uplink-queue&code=model_violation&state=pending");
    expect(byCode.body.items.map((d: Json) => d.id)).toEqual([dead.id]);
    expect((await stack.api.get(`/api/v1/devices/dl-fan/messages`)).body.items).toEqual([]);
    // Counted for Prometheus by iot-uplink, which archives them.
    await eventually(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${stack.platform.ports.uplink}/metrics`)).text();
        return text
          .split("\n")
          .some((l) => l.startsWith("iot_dead_letters{") && l.includes('queue="iot-uplink-queue"') && l.includes('code="model_violation"') && l.endsWith(" 1"));
      },
      5000,
      "iot_dead_letters gauge",
    );

    // Fix: the sensor reads up to 150 °C; a new model version, and the device moved onto it.
    expect((await stack.api.put("/api/v1/thing-models/dl-fan", { definition: fanModel(150) })).body.version).toBe(2);
    expect((await stack.api.patch("/api/v1/devices/dl-fan", { model: { id: "dl-fan", version: 2 } })).status).toBe(200);
    await Bun.sleep(300); // past uplink.deviceCacheMs

    // Replay: the same bytes, to the uplink queue only.
    const replayed = await stack.api.post(`/api/v1/dead-letters/${dead.id}/replay`, undefined);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ id: dead.id, state: "replayed" });
    expect(Date.parse(replayed.body.replayedAt)).toBeGreaterThan(0);

    // Processed: in the message log and pushed to the dashboard, once, with the device's own time.
    const logged = await eventually(async () => (await stack.api.get("/api/v1/devices/dl-fan/messages")).body.items[0], 10_000, "report stored");
    expect(logged).toMatchObject({ kind: "property.report", data: { temperature: 120 }, problems: null });
    expect(new Date(logged.ts).getTime()).toBe(1_700_000_000_000);
    await eventually(() => app.messages().some((m: Json) => m.kind === "property.report" && m.data.temperature === 120), 10_000, "report pushed");
    expect((await stack.api.get("/api/v1/devices/dl-fan")).body.state.temperature.value).toBe(120);

    // The row is kept as the record of the replay; it cannot be sent twice, and it died only once.
    expect((await stack.api.get(`/api/v1/dead-letters/${dead.id}`)).body).toMatchObject({ state: "replayed" });
    expect((await stack.api.post(`/api/v1/dead-letters/${dead.id}/replay`, undefined)).status).toBe(409);
    expect(await deadLettersOf("dl-fan")).toHaveLength(1);
    expect((await stack.api.get("/api/v1/dead-letters?deviceId=dl-fan&state=pending")).body.items).toEqual([]);
    app.socket.close();
  }, 40_000);

  test("a replay that dies again is a new dead letter with its replay count; delete removes one", async () => {
    expect((await stack.api.post("/api/v1/devices", { id: "dl-junk", vendor: "generic" })).status).toBe(201);
    await device.publishAsync("generic/dl-junk/property/report", "\xff\xfe not json", { qos: 1 });
    const [first] = await eventually(
      async () => {
        const items = await deadLettersOf("dl-junk");
        return items.length === 1 ? items : undefined;
      },
      10_000,
      "dead-lettered",
    );
    expect(first.code).toBe("malformed_json");

    expect((await stack.api.post(`/api/v1/dead-letters/${first.id}/replay`, undefined)).status).toBe(200);
    const second = await eventually(async () => (await deadLettersOf("dl-junk")).find((d: Json) => d.id !== first.id), 10_000, "died again");
    // Dead-letter headers of the first death were stripped; only the count says it was replayed.
    expect(second).toMatchObject({ code: "malformed_json", replayCount: 1, state: "pending", headers: { [HEADERS.replayCount]: 1 } });
    expect(second.headers[HEADERS.deadLetterCode]).toBe("malformed_json");

    expect((await stack.api.delete(`/api/v1/dead-letters/${second.id}`)).status).toBe(204);
    expect((await stack.api.get(`/api/v1/dead-letters/${second.id}`)).status).toBe(404);
    expect((await stack.api.delete(`/api/v1/dead-letters/${second.id}`)).status).toBe(404);
  }, 30_000);

  test("a payload the gateway refused for its size is kept cut, with its size, and cannot be replayed", async () => {
    expect((await stack.api.post("/api/v1/devices", { id: "dl-big", vendor: "generic" })).status).toBe(201);
    await device.publishAsync("generic/dl-big/property/report", Buffer.alloc(300_000, 0x61), { qos: 1 });
    const [big] = await eventually(
      async () => {
        const items = await deadLettersOf("dl-big");
        return items.length === 1 ? items : undefined;
      },
      10_000,
      "dead-lettered by the gateway",
    );
    expect(big).toMatchObject({ queue: "iot-gateway", code: "payload_too_large", size: 300_000, payload: { encoding: "utf8", truncated: true } });
    expect(big.reason).toContain("300000 bytes on 'generic/dl-big/property/report'");
    const replay = await stack.api.post(`/api/v1/dead-letters/${big.id}/replay`, undefined);
    expect(replay.status).toBe(409);
    expect(replay.body.error.message).toContain("kept only 262144 of its 300000 bytes");
  }, 30_000);

  test("bulk replay by filter sends each pending match once, oldest first", async () => {
    expect((await stack.api.post("/api/v1/devices", { id: "dl-bulk", vendor: "generic" })).status).toBe(201);
    for (let i = 0; i < 3; i++) await device.publishAsync("generic/dl-bulk/status", JSON.stringify({ state: `asleep-${i}` }), { qos: 1 });
    const items = await eventually(
      async () => {
        const found = await deadLettersOf("dl-bulk");
        return found.length === 3 ? found : undefined;
      },
      10_000,
      "three dead letters",
    );
    const res = await stack.api.post("/api/v1/dead-letters/replay", { deviceId: "dl-bulk", code: "invalid_frame" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ replayed: items.map((d: Json) => d.id).reverse(), failed: [] });
    // Still invalid, each died again once: three new pending rows, and the three replayed ones.
    const again = await eventually(
      async () => {
        const pending = (await stack.api.get("/api/v1/dead-letters?deviceId=dl-bulk&state=pending")).body.items;
        return pending.length === 3 ? pending : undefined;
      },
      10_000,
      "died again",
    );
    expect(again.map((d: Json) => d.replayCount)).toEqual([1, 1, 1]);
    const replayed = (await stack.api.get("/api/v1/dead-letters?deviceId=dl-bulk&state=replayed")).body.items;
    expect(replayed.map((d: Json) => d.id).sort()).toEqual(items.map((d: Json) => d.id).sort());
  }, 30_000);

  test("the routes are in the OpenAPI document", async () => {
    const spec = await stack.api.get("/openapi/json");
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(["/api/v1/dead-letters/", "/api/v1/dead-letters/{id}", "/api/v1/dead-letters/{id}/replay", "/api/v1/dead-letters/replay"]),
    );
  });

  test("dead letters are for admins only: an operator gets 403, even to read", async () => {
    const operator = jsonClient(stack.platform.apiUrl, await testToken("operator"));
    const res = await operator.get("/api/v1/dead-letters");
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
    expect((await operator.post(`/api/v1/dead-letters/replay`, {})).status).toBe(403);
  });
});
