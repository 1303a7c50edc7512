import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { eventually, jsonClient, testToken, wsDashboard, type Json } from "@umos/testkit";
import { freeStandalonePorts, spawnStandalone, standaloneArgs, startStandalone, type StandaloneProcess, type StandalonePorts } from "./standalone-process";

/**
 * `bun run start` as a newcomer runs it: one process, the embedded MQTT broker, bus and PostgreSQL,
 * nothing else. Driven as a device (mqtt.js, MQTT 3.1.1) and an application (REST, WebSocket) would.
 */
let dataDir: string;
let ports: StandalonePorts;
let standalone: StandaloneProcess | undefined;
let api: ReturnType<typeof jsonClient>;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "umos-standalone-"));
  ports = await freeStandalonePorts();
  standalone = await startStandalone(dataDir, ports);
  api = jsonClient(`http://127.0.0.1:${ports.api}`, await testToken("admin"));
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.end(true);
  await standalone?.kill();
  await rm(dataDir, { recursive: true, force: true });
});

async function registerDevice(id: string): Promise<string> {
  const created = await api.post("/api/v1/devices", { id, vendor: "generic" });
  expect(created.status).toBe(201);
  return created.body.credentials.password;
}

async function connectDevice(id: string, password: string): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
    protocolVersion: 4,
    clientId: id,
    username: id,
    password,
    reconnectPeriod: 0,
    will: { topic: `generic/${id}/status`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: false },
  });
  clients.push(client);
  return client;
}

/** Every stored message of a device, newest first, through the REST API's pages. */
async function messageLog(deviceId: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.get(`/api/v1/devices/${deviceId}/messages?limit=500${cursor ? `&before=${cursor}` : ""}`);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

test("the banner names the console, the API, the WebSocket and MQTT, and how to get a token", () => {
  const out = standalone!.output();
  expect(out).toContain(`http://localhost:${ports.api}/`);
  expect(out).toContain(`ws://localhost:${ports.ws}/ws`);
  expect(out).toContain(`mqtt://localhost:${ports.mqtt}`);
  expect(out).toContain("bun run token -- --role admin");
});

test("a device registered over REST publishes at QoS 1; the report is in the message log and on the WebSocket; a command reaches it and is acked", async () => {
  const password = await registerDevice("sa-thermo");
  const dashboard = await wsDashboard(`ws://127.0.0.1:${ports.ws}/ws`, { devices: ["sa-thermo"] }, await testToken("viewer"));
  const device = await connectDevice("sa-thermo", password);
  await device.subscribeAsync("generic/sa-thermo/service/call", { qos: 1 });
  device.on("message", (_topic, payload) => {
    const call = JSON.parse(payload.toString());
    device.publish("generic/sa-thermo/service/reply", JSON.stringify({ correlationId: call.correlationId, code: 0, data: { until: "10:30" } }), { qos: 1 });
  });

  await device.publishAsync("generic/sa-thermo/property/report", JSON.stringify({ id: "r-1", data: { temperature: 21.5 } }), { qos: 1 });
  const stored = await eventually(async () => (await messageLog("sa-thermo")).find((m) => m.kind === "property.report"), 10_000, "report in the message log");
  expect(stored.data).toEqual({ temperature: 21.5 });
  await eventually(() => dashboard.messages().some((m) => m.kind === "property.report" && m.data.temperature === 21.5), 10_000, "report on the WebSocket");

  const command = await api.post("/api/v1/devices/sa-thermo/commands", { service: "boost", params: { minutes: 30 } });
  expect(command.status).toBe(202);
  const acked = await eventually(
    async () => {
      const { body } = await api.get(`/api/v1/commands/${command.body.id}`);
      return body.status === "acked" ? body : undefined;
    },
    15_000,
    "command acked",
  );
  expect(acked.output).toEqual({ until: "10:30" });
  await eventually(() => dashboard.messages().some((m) => m.kind === "command.status" && m.data.status === "acked"), 10_000, "acked on the WebSocket");
  dashboard.socket.close();
}, 60_000);

test("telemetry is kept in the embedded PostgreSQL: the report is in the property's windows, its value list and its CSV export", async () => {
  const last = await eventually(
    async () => {
      const res = await api.get("/api/v1/devices/sa-thermo/telemetry?property=temperature&fn=last");
      return res.status === 200 && res.body.points.length > 0 ? res.body : undefined;
    },
    15_000,
    "the report in the telemetry history",
  );
  expect(last.points.at(-1).value).toBe(21.5);
  const values = await api.get("/api/v1/devices/sa-thermo/telemetry/values?property=temperature");
  expect(values.body.values[0]).toMatchObject({ property: "temperature", value: 21.5, text: null });
  const csv = await fetch(`http://127.0.0.1:${ports.api}/api/v1/devices/sa-thermo/telemetry/export?name=temperature`, {
    headers: { authorization: `Bearer ${await testToken("viewer")}` },
  });
  expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toBe("time,property,value,text");
  expect(lines.slice(1).map((line) => line.split(",").slice(1).join(","))).toEqual(["temperature,21.5,"]);
}, 30_000);

test("a device may not log in with a wrong password, nor subscribe to another device's topics", async () => {
  await expect(
    mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      protocolVersion: 4,
      clientId: "sa-thermo",
      username: "sa-thermo",
      password: "wrong",
      reconnectPeriod: 0,
    }),
  ).rejects.toThrow(/Not authorized/);
  const password = await registerDevice("sa-other");
  const device = await connectDevice("sa-other", password);
  const refused = await device
    .subscribeAsync("generic/sa-thermo/service/call", { qos: 1 })
    .catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
  expect(refused).toEqual([128]); // MQTT 3.1.1 §3.9.3: 0x80 failure
});

test("killed with SIGKILL during a stream of QoS 1 messages and started again, it loses no message it acknowledged", async () => {
  const password = await registerDevice("sa-stream");
  const device = await connectDevice("sa-stream", password);
  device.on("error", () => {}); // the connection dies with the process
  const acked = new Set<number>();
  const total = 2000;
  const inFlight = 20;
  let next = 0;
  let killed = false;
  const send = (): void => {
    if (killed || next >= total) return;
    const seq = next++;
    device.publish("generic/sa-stream/property/report", JSON.stringify({ id: `s-${seq}`, data: { seq } }), { qos: 1 }, (err) => {
      if (!err && !killed) acked.add(seq);
      send();
    });
  };
  for (let i = 0; i < inFlight; i++) send();
  await eventually(() => acked.size >= 300, 30_000, "300 messages acknowledged");
  killed = true;
  await standalone!.kill();
  const ackedBeforeKill = [...acked];
  device.end(true);

  standalone = await startStandalone(dataDir, ports);
  let seen: number[] = [];
  let missing = ackedBeforeKill;
  await eventually(
    async () => {
      seen = (await messageLog("sa-stream")).map((m) => m.data.seq as number);
      const stored = new Set(seen);
      missing = ackedBeforeKill.filter((s) => !stored.has(s));
      return missing.length === 0;
    },
    30_000,
    "every acknowledged message in the log after the restart",
  ).catch(() => {});
  expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(300);
  expect(missing).toEqual([]);
  // The device's own ids make a message resent after the crash recognisable: stored once each.
  expect(seen.length).toBe(new Set(seen).size);
}, 120_000);

test("SIGTERM stops every service and the process exits 0", async () => {
  expect(await standalone!.stop()).toBe(0);
  standalone = undefined;
});

test("a taken port stops start-up with one line naming it, and a non-zero exit", async () => {
  const taken = Bun.listen({ hostname: "0.0.0.0", port: ports.ws, socket: { data() {} } });
  try {
    const other = spawnStandalone(standaloneArgs(join(dataDir, "other"), ports));
    const code = await other.proc.exited;
    expect(code).not.toBe(0);
    const lines = other.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${ports.ws}`);
    expect(lines[0]).toContain("WebSocket");
  } finally {
    taken.stop(true);
  }
}, 30_000);
