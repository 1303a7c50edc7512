import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { eventually, startStack, type Json, type TestStack } from "@umos/testkit";
import tuyaFeeder from "../../shared/vendors/src/tuya/fixtures/model_get_response.json";

/**
 * A DJI dock with an aircraft and a Tuya device, played by real MQTT clients speaking their
 * vendors' protocols, through all five services: they land in the same normalized model.
 */
let stack: TestStack;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  stack = await startStack();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await stack?.dispose();
});

async function device(clientId: string, topics: string[]) {
  const client = await mqtt.connectAsync(stack.broker.url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(client);
  const received: { topic: string; body: Json }[] = [];
  client.on("message", (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString()) }));
  await client.subscribeAsync(topics, { qos: 1 });
  const publish = (topic: string, body: unknown) => client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  const waitFor = (topic: string) => eventually(() => received.find((r) => r.topic === topic), 10_000, `a frame on ${topic}`);
  return { client, received, publish, waitFor };
}

const commandAcked = (id: string) =>
  eventually(
    async () => {
      const { body } = await stack.api.get(`/api/v1/commands/${id}`);
      return body.status === "acked" ? body : undefined;
    },
    10_000,
    `command ${id} acked`,
  );

describe("DJI dock with an aircraft", () => {
  test("topology, osd of dock and aircraft, an event answered, and a services call acked with its output", async () => {
    expect((await stack.api.post("/api/v1/devices", { id: "dock-1", vendor: "dji", name: "Dock 2" })).status).toBe(201);
    const app = await stack.dashboard({ vendors: ["dji"] });
    const dock = await device("dock-1", [
      "thing/product/dock-1/services",
      "thing/product/dock-1/events_reply",
      "thing/product/dock-1/requests_reply",
      "sys/product/dock-1/status_reply",
    ]);

    const topo = {
      tid: "t-topo",
      bid: "b-topo",
      method: "update_topo",
      timestamp: Date.now(),
      data: { type: 98, sub_type: 0, sub_devices: [{ sn: "aircraft-1", type: 116, sub_type: 0, index: "A" }] },
    };
    await dock.publish("sys/product/dock-1/status", topo);
    expect((await dock.waitFor("sys/product/dock-1/status_reply")).body).toMatchObject({
      tid: "t-topo",
      bid: "b-topo",
      method: "update_topo",
      data: { result: 0 },
    });
    const aircraft = await eventually(
      async () => {
        const { status, body } = await stack.api.get("/api/v1/devices/aircraft-1");
        return status === 200 && body.online ? body : undefined;
      },
      10_000,
      "aircraft registered from the topology",
    );
    expect(aircraft).toMatchObject({ vendor: "dji", parentId: "dock-1" });

    await dock.publish("thing/product/dock-1/osd", {
      tid: "t-osd-1",
      bid: "b",
      timestamp: Date.now(),
      gateway: "dock-1",
      data: { mode_code: 1, drone_in_dock: 1 },
    });
    await dock.publish("thing/product/aircraft-1/osd", {
      tid: "t-osd-2",
      bid: "b",
      timestamp: String(Date.now()),
      gateway: "dock-1",
      data: { battery: { capacity_percent: 87 }, height: 38.2 },
    });
    await dock.publish("thing/product/dock-1/events", { tid: "t-ev", bid: "b-ev", timestamp: Date.now(), method: "hms", need_reply: 1, data: { list: [] } });
    expect((await dock.waitFor("thing/product/dock-1/events_reply")).body).toMatchObject({ tid: "t-ev", bid: "b-ev", data: { result: 0 } });

    await eventually(() => app.messages().filter((m: Json) => m.kind === "property.report").length === 2, 10_000, "both osd pushed");
    // Two devices' reports: the live feed promises no order between them (docs/guarantees.md).
    const reports = app.messages().filter((m: Json) => m.kind === "property.report");
    expect(reports.map((m: Json) => [m.deviceId, m.vendor, m.routingKey]).sort()).toEqual([
      ["aircraft-1", "dji", "iot.dji.event.property.report"],
      ["dock-1", "dji", "iot.dji.event.property.report"],
    ]);
    expect(app.messages().some((m: Json) => m.kind === "event.report" && m.data.event === "hms")).toBe(true);
    const aircraftLog = await stack.api.get("/api/v1/devices/aircraft-1/messages");
    expect(aircraftLog.body.items[0]).toMatchObject({ vendor: "dji", kind: "property.report", data: { height: 38.2 } });

    // The dock answers its services call like a DJI dock: services_reply with tid and bid echoed.
    dock.client.on("message", (topic, payload) => {
      if (topic !== "thing/product/dock-1/services") return;
      const call = JSON.parse(payload.toString());
      void dock.publish("thing/product/dock-1/services_reply", {
        tid: call.tid,
        bid: call.bid,
        timestamp: Date.now(),
        method: call.method,
        data: { result: 0, output: { status: "ok" } },
      });
    });
    const res = await stack.api.post("/api/v1/devices/dock-1/commands", { service: "cover_open" });
    expect(res.status).toBe(202);
    const call = await dock.waitFor("thing/product/dock-1/services");
    expect(call.body).toMatchObject({ tid: res.body.id, bid: res.body.id, method: "cover_open", data: null });
    expect((await commandAcked(res.body.id)).output).toEqual({ status: "ok" });

    // A command for the aircraft goes through its dock.
    const toAircraft = await stack.api.post("/api/v1/devices/aircraft-1/commands", { service: "return_home" });
    await commandAcked(toAircraft.body.id);
    expect(dock.received.filter((r) => r.topic === "thing/product/dock-1/services").map((r) => r.body.method)).toEqual(["cover_open", "return_home"]);

    // The dock asks for its configuration; an application answers through the API.
    await dock.publish("thing/product/dock-1/requests", {
      tid: "t-req",
      bid: "b-req",
      timestamp: Date.now(),
      method: "config",
      data: { config_type: "json", config_scope: "product" },
    });
    await eventually(() => app.messages().some((m: Json) => m.kind === "request" && m.data.tid === "t-req"), 10_000, "request pushed");
    const answered = await stack.api.post("/api/v1/devices/dock-1/requests/t-req/reply", { result: 0, output: { ntp_server_host: "pool.ntp.org" } });
    expect(answered.status).toBe(202);
    expect((await dock.waitFor("thing/product/dock-1/requests_reply")).body).toMatchObject({
      tid: "t-req",
      bid: "b-req",
      method: "config",
      data: { result: 0, output: { ntp_server_host: "pool.ntp.org" } },
    });
    expect((await stack.api.post("/api/v1/devices/dock-1/requests/nope/reply", { result: 0 })).status).toBe(404);

    // An empty topology: the aircraft left the dock's reach.
    await dock.publish("sys/product/dock-1/status", { ...topo, tid: "t-topo-2", data: { ...topo.data, sub_devices: [] } });
    await eventually(async () => (await stack.api.get("/api/v1/devices/aircraft-1")).body.online === false, 10_000, "aircraft offline");
    app.socket.close();
  }, 60_000);
});

describe("Tuya device", () => {
  test("scaled reports come out right, an event is triggered, and an action execute is acked", async () => {
    const imported = await stack.api.post("/api/v1/thing-models/import", { id: "feeder", vendor: "tuya", document: tuyaFeeder });
    expect(imported.status).toBe(201);
    expect((await stack.api.post("/api/v1/devices", { id: "feeder-1", vendor: "tuya", model: { id: "feeder" } })).status).toBe(201);
    const app = await stack.dashboard({ devices: ["feeder-1"] });
    const feeder = await device("feeder-1", ["tylink/feeder-1/thing/action/execute", "tylink/feeder-1/thing/property/report_response"]);

    const now = Date.now();
    await feeder.publish("tylink/feeder-1/thing/property/report", {
      msgId: "r-1",
      time: now,
      data: { cur_voltage: { value: 2230, time: now }, foodRemaining: { value: 500, time: now } },
      sys: { ack: 1 },
    });
    expect((await feeder.waitFor("tylink/feeder-1/thing/property/report_response")).body).toMatchObject({ msgId: "r-1", code: 0 });
    await eventually(async () => (await stack.api.get("/api/v1/devices/feeder-1")).body.state.cur_voltage?.value === 223, 10_000, "223 V in the state");
    await feeder.publish("tylink/feeder-1/thing/event/trigger", {
      msgId: "e-1",
      time: Math.floor(now / 1000),
      data: { eventCode: "feedEvent", eventTime: now, outputParams: { time: now } },
    });

    feeder.client.on("message", (topic, payload) => {
      if (topic !== "tylink/feeder-1/thing/action/execute") return;
      const call = JSON.parse(payload.toString());
      void feeder.publish("tylink/feeder-1/thing/action/execute_response", {
        msgId: call.msgId,
        time: Date.now(),
        code: 0,
        data: { actionCode: call.data.actionCode, outputParams: { dispensed: call.data.inputParams.portions } },
      });
    });
    const res = await stack.api.post("/api/v1/devices/feeder-1/commands", { service: "feed", params: { portions: 2 } });
    expect(res.status).toBe(202);
    const call = await feeder.waitFor("tylink/feeder-1/thing/action/execute");
    expect(call.body).toMatchObject({ msgId: res.body.id.replaceAll("-", ""), data: { actionCode: "feed", inputParams: { portions: 2 } } });
    expect((await commandAcked(res.body.id)).output).toEqual({ dispensed: 2 });

    await eventually(() => app.messages().some((m: Json) => m.kind === "event.report"), 10_000, "event pushed");
    const pushed = app.messages();
    expect(pushed.find((m: Json) => m.kind === "property.report")).toMatchObject({
      vendor: "tuya",
      deviceId: "feeder-1",
      data: { cur_voltage: 223, foodRemaining: 500 },
    });
    expect(pushed.find((m: Json) => m.kind === "event.report")).toMatchObject({
      vendor: "tuya",
      data: { event: "feedEvent" },
      routingKey: "iot.tuya.event.event.report",
    });
    const log = await stack.api.get("/api/v1/devices/feeder-1/messages");
    expect(log.body.items.map((m: Json) => m.kind).sort()).toEqual(["event.report", "property.report", "service.reply"]);
    expect(log.body.items.every((m: Json) => m.vendor === "tuya" && m.deviceId === "feeder-1")).toBe(true);
    app.socket.close();
  }, 60_000);
});
