import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectBus, publishEnvelope, readEnvelope, shareBus, type Bus, type BusMessage } from "@umos/bus";
import { HEADERS, KINDS, QUEUES, routingKey, type Envelope } from "@umos/contracts";
import { silentLogger } from "@umos/core";
import type { App } from "@umos/runtime";
import { commandRepository, deviceRepository, openMigratedDatabase, type Database } from "@umos/store";
import { createBusFile, createDatabase, eventually, testConfig, testDeps, type TestBusFile, type TestDatabase } from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * iot-downlink's state machine (docs/design.md §4) in process, on the embedded bus in a temporary
 * file and a database of its own: what it is handed on the service stage, what it sends towards the
 * gateway, and each command's status in the database.
 */
let busFile: TestBusFile;
let database: TestDatabase;
let db: Database;
let bus: Bus;
let downlink: App;
const toGateway: BusMessage[] = [];
const statuses: Envelope[] = [];

beforeAll(async () => {
  [busFile, database] = await Promise.all([createBusFile(), createDatabase()]);
  const config = testConfig({ busUrl: busFile.url, postgresUrl: database.url }, { UMOS_DOWNLINK__SWEEP_INTERVAL_MS: "50" });
  const deps = testDeps("iot-downlink");
  db = await openMigratedDatabase(config.postgres, silentLogger);
  bus = await connectBus({ ...config.bus, name: "downlink-test", log: silentLogger });
  downlink = createApp(config, { ...deps, bus: shareBus(bus, config.bus.url, deps.obs), db });
  await downlink.start();
  await bus.consume({ queue: QUEUES.gateway }, async (message) => void toGateway.push(message));
  await bus.consume({ queue: { wsInstance: "downlink-test" } }, async (message) => {
    const envelope = readEnvelope(message);
    if (envelope.kind === KINDS.commandStatus) statuses.push(envelope);
  });
  const devices = deviceRepository(db.sql);
  for (const id of ["lamp", "other"]) await devices.create({ id, vendor: "generic" });
  await db.sql`update devices set online = true where id in ('lamp', 'other')`;
  await devices.create({ id: "asleep", vendor: "generic" });
});

afterAll(async () => {
  await downlink?.stop();
  await bus?.close();
  await db?.close();
  await database?.dispose();
  await busFile?.dispose();
});

const commands = () => commandRepository(db.sql);
const statusOf = async (id: string) => (await commands().get(id)).status;

/** What iot-api does for a command: store it queued, then hand it to the service stage. */
async function submit(deviceId: string, timeoutMs = 5000): Promise<string> {
  const id = Bun.randomUUIDv7();
  await commands().create({ id, deviceId, vendor: "generic", kind: KINDS.serviceCall, service: "blink", params: {}, timeoutMs, ttlMs: 60_000 });
  const envelope: Envelope = {
    id,
    ts: Date.now(),
    vendor: "generic",
    deviceId,
    kind: KINDS.serviceCall,
    correlationId: id,
    data: { service: "blink", params: {} },
  };
  await publishEnvelope(bus, routingKey("generic", "service", KINDS.serviceCall), envelope);
  return id;
}

/** A device's reply, as iot-uplink hands it on. */
const reply = (deviceId: string, commandId: string, code: number) =>
  publishEnvelope(bus, routingKey("generic", "service", KINDS.serviceReply), {
    id: Bun.randomUUIDv7(),
    ts: Date.now(),
    vendor: "generic",
    deviceId,
    kind: KINDS.serviceReply,
    correlationId: commandId,
    data: { code, output: { brightness: 3 } },
  });

describe("iot-downlink", () => {
  test("a command for an online device is encoded for its topic, marked sent, and acked by the device's answer", async () => {
    const id = await submit("lamp");
    const frame = await eventually(() => toGateway.find((m) => JSON.parse(m.body.toString()).correlationId === id), 5000, "the frame for the gateway");
    expect(frame.headers[HEADERS.mqttTopic]).toBe("generic/lamp/service/call");
    await eventually(async () => (await statusOf(id)) === "sent", 5000, "sent");
    await reply("lamp", id, 0);
    await eventually(async () => (await statusOf(id)) === "acked", 5000, "acked");
    expect((await commands().get(id)).output).toEqual({ brightness: 3 });
    await eventually(
      () =>
        statuses
          .filter((s) => s.correlationId === id)
          .map((s) => (s.data as { status: string }).status)
          .join() === "sent,acked",
      5000,
      "announced",
    );
  });

  test("another device's answer, even with the command's id, changes nothing; a non-zero code fails the command", async () => {
    const id = await submit("lamp");
    await eventually(async () => (await statusOf(id)) === "sent", 5000, "sent");
    await reply("other", id, 0);
    await Bun.sleep(300);
    expect(await statusOf(id)).toBe("sent");
    await reply("lamp", id, 7);
    await eventually(async () => (await statusOf(id)) === "failed", 5000, "failed");
    expect((await commands().get(id)).reason).toBe("the device answered code 7");
  });

  test("a device that does not answer in time: the command times out; a late answer changes nothing", async () => {
    const id = await submit("lamp", 200);
    await eventually(async () => (await statusOf(id)) === "timeout", 5000, "timeout");
    await reply("lamp", id, 0);
    await Bun.sleep(300);
    expect(await statusOf(id)).toBe("timeout");
  });

  test("a command for an offline device waits queued, and is sent once the device is online", async () => {
    const id = await submit("asleep");
    await Bun.sleep(300);
    expect(await statusOf(id)).toBe("queued");
    await db.sql`update devices set online = true where id = 'asleep'`;
    await eventually(async () => (await statusOf(id)) === "sent", 5000, "sent once online");
  });
});
