import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Envelope } from "@umos/contracts";
import { commandRepository } from "./commands";
import type { Database } from "./database";
import { scratchDatabase } from "./scratch-database";
import { deviceRepository } from "./devices";
import { writeBatch, type LogEntry } from "./messages";

let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
let db: Database;

beforeAll(async () => {
  scratch = await scratchDatabase("store");
  db = scratch.db;
  const devices = deviceRepository(db.sql);
  for (const id of ["w-1", "w-2"]) await devices.create({ id, vendor: "generic" });
});

afterAll(async () => {
  await scratch?.dispose();
});

function entry(deviceId: string, kind: string, data: unknown, ts: number, dedupeKey: string): LogEntry {
  const envelope: Envelope = { id: Bun.randomUUIDv7(), ts, vendor: "generic", deviceId, kind, data };
  return { envelope, dedupeKey, receivedAt: ts + 5 };
}

test("a batch stores each message once, the newest state per property, and who came online", async () => {
  const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const first = entry("w-1", "property.report", { temp: 21.5, mode: "eco", none: null }, t, "id:a");
  const older = entry("w-1", "property.report", { temp: 19 }, t - 1000, "id:b");
  const event = entry("w-2", "event.report", { event: "alarm", data: { level: 2 } }, t, "id:c");
  event.problems = [{ path: "/level", message: "too high" }];
  const result = await writeBatch(db.sql, [first, older, event]);

  expect(result.fresh).toEqual(new Set([first.envelope.id, older.envelope.id, event.envelope.id]));
  expect(result.cameOnline.map((d) => d.id).sort()).toEqual(["w-1", "w-2"]);
  const rows = await db.sql`select id, ts, received_at, data, problems from message_log where id = ${event.envelope.id}`;
  expect(rows[0]!.ts.getTime()).toBe(t);
  expect(rows[0]!.received_at.getTime()).toBe(t + 5);
  expect(rows[0]!.data).toEqual({ event: "alarm", data: { level: 2 } });
  expect(rows[0]!.problems).toEqual([{ path: "/level", message: "too high" }]);
  const state = await db.sql`select property, value, reported_at from device_state where device_id = 'w-1' order by property`;
  expect(state.map((r) => [r.property, r.value, r.reported_at.getTime()])).toEqual([
    ["mode", "eco", t],
    ["none", null, t],
    ["temp", 21.5, t],
  ]);
  const [device] = await db.sql`select online, last_seen_at from devices where id = 'w-1'`;
  expect(device!.online).toBe(true);
  expect(device!.last_seen_at.getTime()).toBe(t + 5);

  // The same device message again (a broker's resend) is not new; an older report does not move the state back.
  const again = entry("w-1", "property.report", { temp: 30 }, t - 5000, "id:a");
  const offline = entry("w-2", "status.offline", { state: "offline" }, t + 10, "id:d");
  const second = await writeBatch(db.sql, [again, offline]);
  expect(second.fresh).toEqual(new Set([offline.envelope.id]));
  expect(second.cameOnline).toEqual([]);
  const [temp] = await db.sql`select value from device_state where device_id = 'w-1' and property = 'temp'`;
  expect(temp!.value).toBe(21.5);
  const [w2] = await db.sql`select online from devices where id = 'w-2'`;
  expect(w2!.online).toBe(false);
});

test("a batch that fails stores nothing of itself, and leaves its connection fit for the next", async () => {
  const good = entry("w-1", "property.report", { temp: 1 }, Date.now(), "id:f1");
  const stranger = entry("no-such-device", "property.report", { temp: 2 }, Date.now(), "id:f2");
  const err = await writeBatch(db.sql, [good, stranger]).catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe("23503"); // foreign key: the device is not registered
  const [stored] = await db.sql`select count(*)::int as n from message_log where id = ${good.envelope.id}`;
  expect(stored!.n).toBe(0);
  expect((await writeBatch(db.sql, [good])).fresh).toEqual(new Set([good.envelope.id]));
  const [open] = await db.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`;
  expect(open!.n).toBe(0);
});

test("a command is stored queued with its first transition and desired values; its idempotency key returns it again", async () => {
  const commands = commandRepository(db.sql);
  const base = {
    deviceId: "w-2",
    vendor: "generic" as const,
    kind: "property.set",
    service: null,
    params: { mode: "eco" },
    timeoutMs: 1000,
    ttlMs: 60_000,
    idempotencyKey: "k-1",
  };
  const first = await commands.create({ ...base, id: Bun.randomUUIDv7() });
  expect(first.replayed).toBe(false);
  expect(first.command.status).toBe("queued");
  expect(first.command.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
  expect((await commands.withHistory(first.command.id)).history.map((h) => h.status)).toEqual(["queued"]);
  const [desired] = await db.sql`select value, command_id from device_desired where device_id = 'w-2' and property = 'mode'`;
  expect(desired).toEqual({ value: "eco", command_id: first.command.id });

  const again = await commands.create({ ...base, id: Bun.randomUUIDv7() });
  expect(again).toEqual({ command: first.command, replayed: true });
  const other = await commands.create({ ...base, id: Bun.randomUUIDv7(), kind: "service.call", service: "boost" }).catch((e: unknown) => e);
  expect((other as Error).message).toContain("Idempotency-Key 'k-1' was used for another command");
});

test("a queued command is sent while its row is held, and stays queued when the send fails or its device is offline", async () => {
  const commands = commandRepository(db.sql);
  const queued = async (deviceId: string) =>
    (
      await commands.create({
        id: Bun.randomUUIDv7(),
        deviceId,
        vendor: "generic",
        kind: "service.call",
        service: "ping",
        params: {},
        timeoutMs: 5000,
        ttlMs: 60_000,
      })
    ).command;
  await db.sql`update devices set online = (id = 'w-1')`;

  const failing = await queued("w-1");
  const err = await commands.sendQueued(failing.id, async () => Promise.reject(new Error("broker gone"))).catch((e: unknown) => e);
  expect((err as Error).message).toBe("broker gone");
  expect((await commands.get(failing.id)).status).toBe("queued");

  const seen: string[] = [];
  const sent = await commands.sendQueued(failing.id, async (command) => void seen.push(command.id));
  expect(seen).toEqual([failing.id]);
  expect(sent).toMatchObject({ id: failing.id, status: "sent" });
  expect(sent!.deadlineAt!.getTime()).toBeGreaterThan(sent!.sentAt!.getTime());
  expect((await commands.withHistory(failing.id)).history.map((h) => h.status)).toEqual(["queued", "sent"]);
  expect(await commands.sendQueued(failing.id, async () => void seen.push("again"))).toBeUndefined();

  const waiting = await queued("w-2");
  expect(await commands.sendQueued(waiting.id, async () => void seen.push(waiting.id))).toBeUndefined();
  expect(seen).toEqual([failing.id]);
  expect((await commands.get(waiting.id)).status).toBe("queued");
  // Every connection went back to the pool outside a transaction.
  const [open] = await db.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`;
  expect(open!.n).toBe(0);
});
