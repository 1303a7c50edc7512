import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectBus, shareBus, type Bus } from "@umos/bus";
import { silentLogger } from "@umos/core";
import { openMigratedDatabase, type Database } from "@umos/store";
import { createBusFile, createDatabase, manualClock, testConfig, testDeps, testToken, type TestBusFile, type TestDatabase } from "@umos/testkit";
import { createApp, type ApiApp } from "../src/app";

/**
 * iot-api driven in process through handle(), put together on the embedded bus in a temporary file
 * and a database of its own: no RabbitMQ, no socket. What crosses the bus is checked on the bus.
 * Its clock is the test's: time passes when a test moves it.
 */
const clock = manualClock();
let toleranceMs: number;
let busFile: TestBusFile;
let database: TestDatabase;
let db: Database;
let bus: Bus;
let api: ApiApp;
let admin: string;

beforeAll(async () => {
  [busFile, database] = await Promise.all([createBusFile(), createDatabase()]);
  const config = testConfig({ busUrl: busFile.url, postgresUrl: database.url });
  const deps = testDeps("iot-api", { clock });
  toleranceMs = config.auth.clockToleranceSec * 1000;
  db = await openMigratedDatabase(config.postgres, silentLogger);
  bus = await connectBus({ ...config.bus, name: "in-process", log: silentLogger });
  api = createApp(config, { ...deps, bus: shareBus(bus, config.bus.url, deps.obs), db });
  await api.start();
  admin = await testToken("admin");
});

afterAll(async () => {
  await api?.stop();
  await bus?.close();
  await db?.close();
  await database?.dispose();
  await busFile?.dispose();
});

const call = (path: string, init: RequestInit & { token?: string } = {}) =>
  api.handle(
    new Request(`http://localhost:8080${path}`, {
      ...init,
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body ? { "content-type": "application/json" } : {}),
        ...init.headers,
      },
    }),
  );

describe("iot-api in process", () => {
  test("answers as its listener would: health is public, the API needs a token, a rebinding Host is refused", async () => {
    expect((await call("/health")).status).toBe(200);
    expect((await call("/api/v1/devices")).status).toBe(401);
    expect((await call("/api/v1/devices", { token: admin, headers: { host: "evil.example" } })).status).toBe(400);
    expect((await call("/api/v1/devices", { token: admin })).status).toBe(200);
  });

  test("a token stops working once the API's clock passes its expiry and the tolerance", async () => {
    const token = await testToken("viewer", { ttlSec: 60 });
    expect((await call("/api/v1/devices", { token })).status).toBe(200);
    clock.advance(60_000 + toleranceMs - 5_000);
    expect((await call("/api/v1/devices", { token })).status).toBe(200);
    clock.advance(10_000);
    const expired = await call("/api/v1/devices", { token });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toBe("the token has expired");
    expect((await call("/api/v1/devices", { token: await testToken("viewer", { ttlSec: 3600 }) })).status).toBe(200);
  });

  test("a command to a registered device is stored queued and published for iot-downlink on the bus", async () => {
    const calls: string[] = [];
    const consumer = await bus.consume({ queue: "iot-downlink-queue" }, async (message) => void calls.push(message.routingKey));
    const created = await call("/api/v1/devices", { method: "POST", token: admin, body: JSON.stringify({ id: "in-process-1", vendor: "generic" }) });
    expect(created.status).toBe(201);
    const sent = await call("/api/v1/devices/in-process-1/commands", { method: "POST", token: admin, body: JSON.stringify({ service: "blink" }) });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    expect(((await (await call(`/api/v1/commands/${id}`, { token: admin })).json()) as { status: string }).status).toBe("queued");
    for (let i = 0; i < 50 && calls.length === 0; i++) await Bun.sleep(20);
    await consumer.stop();
    expect(calls).toEqual(["iot.generic.service.service.call"]);
  });
});
