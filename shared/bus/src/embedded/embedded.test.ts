import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QUEUES } from "@umos/contracts";
import { ConflictError } from "@umos/core";
import { eventually } from "@umos/testkit";
import { connectBus } from "../connect";
import { copyEmbeddedBus } from "./shared-broker";
import type { Bus } from "../types";
import { CONTRACT_OPTIONS } from "../bus.contract";
import type { BusMessage } from "../types";

const CHILD = join(import.meta.dir, "fixtures", "crash-child.ts");

let dir: string;
let path: string;
const open: Bus[] = [];
const children: Subprocess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "umos-bus-"));
  path = join(dir, "bus.sqlite");
});

afterEach(async () => {
  for (const proc of children.splice(0)) proc.kill("SIGKILL");
  for (const bus of open.splice(0)) await bus.close();
  await rm(dir, { recursive: true, force: true });
});

async function connect(url = `embedded:${path}`): Promise<Bus> {
  const bus = await connectBus({ ...CONTRACT_OPTIONS, url });
  open.push(bus);
  return bus;
}

/** Runs crash-child.ts on this test's file, handing each line of its output to `onLine`. */
function child(args: string[], onLine: (line: string) => void = () => {}) {
  const proc = Bun.spawn([process.execPath, CHILD, path, ...args], { stdout: "pipe", stderr: "inherit" });
  children.push(proc);
  void (async () => {
    let rest = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      lines.forEach(onLine);
    }
  })();
  return proc;
}

async function drain(bus: Bus, count: number): Promise<BusMessage[]> {
  const got: BusMessage[] = [];
  const consumer = await bus.consume({ queue: QUEUES.uplink }, async (m) => void got.push(m));
  await eventually(() => got.length >= count, 10_000, `${count} messages`);
  await consumer.stop();
  return got;
}

describe("embedded bus", () => {
  test("SIGKILL mid-stream loses no confirmed publish; deliveries that were unacked come back redelivered", async () => {
    let confirmed = -1;
    const delivered = new Set<string>();
    const proc = child([], (line) => {
      const [what, n] = line.split(" ");
      if (what === "confirmed") confirmed = Number(n);
      if (what === "delivered") delivered.add(n!);
    });
    await eventually(() => confirmed >= 3000, 20_000, "3,000 confirmed publishes");
    proc.kill("SIGKILL");
    await proc.exited;
    expect(delivered.size).toBe(20);

    const bus = await connect();
    const got = await drain(bus, confirmed + 1);
    const ids = got.map((m) => Number(m.messageId));
    // Every confirmed message, in publish order; the ones in flight at the kill may follow.
    expect(ids.slice(0, confirmed + 1)).toEqual(Array.from({ length: confirmed + 1 }, (_, i) => i));
    expect(got.filter((m) => m.redelivered).map((m) => m.messageId)).toEqual([...delivered]);
  }, 40_000);

  test("after a clean close, acked messages stay acked and the rest come back not redelivered", async () => {
    const first = await connect();
    const acked: string[] = [];
    const consumer = await first.consume({ queue: QUEUES.uplink }, async (m) => void acked.push(m.body.toString()));
    for (let i = 0; i < 10; i++) await first.publish("iot.generic.device.x", Buffer.from(`acked-${i}`));
    await eventually(() => acked.length === 10, 5000, "ten acked");
    await consumer.stop();
    await first.publish("iot.generic.device.x", Buffer.from("waiting"));
    await first.close();

    const got = await drain(await connect(), 1);
    expect(got.map((m) => [m.body.toString(), m.redelivered])).toEqual([["waiting", false]]);
  });

  test("a copy taken while the file is open holds what was confirmed, acks written first; the copy opens as a bus of its own", async () => {
    const bus = await connect();
    let delivered = 0;
    const consumer = await bus.consume({ queue: QUEUES.uplink }, async () => void delivered++);
    await bus.publish("iot.generic.device.x", Buffer.from("acked"));
    await eventually(() => delivered === 1, 5000, "the first message handled");
    await consumer.stop();
    await bus.publish("iot.generic.device.x", Buffer.from("waiting"));
    const copy = join(dir, "copy.sqlite");
    copyEmbeddedBus(path, copy);
    await bus.close();
    open.splice(open.indexOf(bus), 1);
    const got = await drain(await connect(`embedded:${copy}`), 1);
    expect(got.map((m) => m.body.toString())).toEqual(["waiting"]);
  });

  test("a second process is refused the file with one clear error, and gets it once the first is gone", async () => {
    let held = false;
    const holder = child(["hold"], (line) => (held ||= line === "open"));
    await eventually(() => held, 10_000, "the other process holds the file");
    const refused = await connect().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as Error).message).toBe(
      `the embedded bus ${path} is open in another process; one process at a time may use it (stop the other UMOS process, or give this one its own data directory)`,
    );
    holder.kill("SIGKILL");
    await holder.exited;
    const bus = await connect();
    expect(bus.isConnected()).toBe(true);
  }, 20_000);

  test("the services of one process share the file; it stays open until the last of them closes", async () => {
    const api = await connect();
    const uplink = await connect();
    const got: string[] = [];
    await uplink.consume({ queue: QUEUES.uplink }, async (m) => void got.push(m.body.toString()));
    await api.publish("iot.generic.device.x", Buffer.from("one"));
    await api.close();
    await api.close();
    await eventually(() => got.includes("one"), 5000, "first message");
    const gateway = await connect();
    await gateway.publish("iot.generic.device.x", Buffer.from("two"));
    await eventually(() => got.includes("two"), 5000, "second message, after one bus closed");
    expect(uplink.isConnected()).toBe(true);
  });

  test("a URL without a file, or with an unknown synchronous mode, is refused", async () => {
    await expect(connect("embedded:")).rejects.toThrow("names no file");
    await expect(connect(`embedded:${path}?synchronous=off`)).rejects.toThrow("synchronous must be normal or full");
    expect((await connect(`embedded:${path}?synchronous=full`)).isConnected()).toBe(true);
  });

  test("a backlog larger than the memory window is delivered whole and in order", async () => {
    const bus = await connect();
    const count = 25_000;
    await Promise.all(Array.from({ length: count }, (_, i) => bus.publish("iot.generic.device.x", Buffer.from(String(i)))));
    const got = await drain(bus, count);
    expect(got.map((m) => Number(m.body.toString()))).toEqual(Array.from({ length: count }, (_, i) => i));
  }, 30_000);
});
