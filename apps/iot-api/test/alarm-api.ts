import { connectBus, shareBus, type BusMessage } from "@umos/bus";
import type { Role } from "@umos/auth";
import { QUEUES } from "@umos/contracts";
import { silentLogger } from "@umos/core";
import type { Alarm, Database } from "@umos/store";
import { createBusFile, createMigratedDatabase, eventually, testConfig, testDeps, testToken, type Json } from "@umos/testkit";
import { createApp } from "../src/app";

/**
 * iot-api in process for the alarm, rule and fleet tests (settings in `extra`, as UMOS_ variables): its own database and embedded bus in a
 * temporary file, called through handle() with a token of each role, and the notifier's queue
 * (every alarm event) read on the same bus.
 */
export async function startAlarmApi(extra: Record<string, string> = {}) {
  const [busFile, database] = await Promise.all([createBusFile(), createMigratedDatabase()]);
  const config = testConfig({ busUrl: busFile.url, postgresUrl: database.url }, extra);
  const deps = testDeps("iot-api");
  const bus = await connectBus({ ...config.bus, name: "alarm-test", log: silentLogger });
  const api = createApp(config, { ...deps, bus: shareBus(bus, config.bus.url, deps.obs), db: database.db });
  await api.start();
  const tokens = Object.fromEntries(await Promise.all((["viewer", "operator", "admin"] as const).map(async (r) => [r, await testToken(r)])));
  const events: BusMessage[] = [];
  const notifier = await bus.consume({ queue: QUEUES.notify }, async (message) => void events.push(message));
  return {
    api,
    db: database.db,
    bus,
    config,
    /** Alarm events the notifier's queue received, in order. */
    events,
    /** The answer to a call as `role`, its body parsed. */
    async call(role: Role | null, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
      const res = await api.handle(
        new Request(`http://localhost:8080${path}`, {
          method,
          headers: { ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    /** Waits until the notifier's queue holds `count` events. */
    async eventsReach(count: number): Promise<Json[]> {
      await eventually(() => events.length >= count, 3000, `${count} alarm events`);
      return events.map((m) => ({ routingKey: m.routingKey, deviceHeader: m.headers["x-device-id"], ...JSON.parse(m.body.toString()) }));
    },
    /** Waits until every queued alarm event was published and removed from the outbox. */
    async outboxDrained(): Promise<void> {
      await eventually(async () => (await database.db.sql<{ n: number }[]>`select count(*)::int as n from alarm_outbox`)[0]!.n === 0, 3000, "an empty outbox");
    },
    async dispose() {
      await notifier.stop();
      await api.stop();
      await bus.close();
      await database.dispose();
      await busFile.dispose();
    },
  };
}

export type AlarmApi = Awaited<ReturnType<typeof startAlarmApi>>;

/** An alarm as iot-rules would have raised it, written straight into the table; returns its id. */
export async function seedAlarm(db: Database, alarm: Partial<Alarm> & { deviceId: string | null; source: string }): Promise<string> {
  const startedAt = alarm.startedAt ?? new Date();
  const [row] = await db.sql<{ id: string }[]>`
    insert into alarms (id, device_id, vendor, source, type, rule_id, severity, status, acknowledged, started_at, last_seen_at, ended_at, details)
    values (${Bun.randomUUIDv7()}, ${alarm.deviceId}, ${alarm.vendor ?? "generic"}, ${alarm.source}, ${alarm.type ?? alarm.source},
      ${alarm.ruleId ?? null}, ${alarm.severity ?? "major"}, ${alarm.status ?? "active"}, ${alarm.acknowledged ?? false},
      ${startedAt}, ${startedAt}, ${alarm.status === "cleared" ? startedAt : null}, '{"seeded": true}'::jsonb)
    returning id`;
  return row!.id;
}
