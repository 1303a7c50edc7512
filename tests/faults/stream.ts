import amqplib from "amqplib";
import mqtt from "mqtt";
import type postgres from "postgres";
import { EXCHANGE } from "@umos/contracts";
import { eventually, type jsonClient } from "@umos/testkit";
import { openDashboard } from "./dashboard";

/**
 * One fault case's traffic, counted at the far end: QoS 1 reports from MQTT devices, counted in the
 * message log (SQL), by a WebSocket client and, as raw frames entering RabbitMQ, by a tap queue;
 * commands through REST, counted by the devices that get them and checked in their final state.
 */
export interface StreamOptions {
  /** Names the devices and the tap queue; unique per case. */
  tag: string;
  devices?: number;
  /** Reports per second per device. */
  rate?: number;
  seconds?: number;
  /** REST commands per second, over all devices. */
  commandRate?: number;
  /** Each command's timeoutMs; unset, the platform's default (commands.defaultTimeoutMs, 30 s). */
  commandTimeoutMs?: number;
  /** Bytes of filler in each report, for cases that need volume. */
  padding?: number;
  /** When the fault starts, as a share of the stream's duration. */
  faultAt?: number;
  /** How long the case waits, after the stream, for everything to arrive. */
  settleMs?: number;
  /** Runs once the case's devices are registered, before any traffic (a case's own setup for them). */
  beforeStream?: (deviceIds: string[]) => Promise<void>;
  /** Runs once everything is counted, while the devices are still connected and answering (a job still running). */
  afterStream?: () => Promise<void>;
}

export interface StreamEnds {
  api: ReturnType<typeof jsonClient>;
  /** The test database, read directly (never through a proxy a case may cut). */
  sql: postgres.Sql;
  mqttUrl: string;
  wsUrl: string;
  token: string;
  /** RabbitMQ as the test sees it, for the tap queue (direct, never through a proxy). */
  rabbitmqUrl: string;
}

export interface FaultReport {
  name: string;
  sent: number;
  /** Distinct reports in the message log. */
  received: number;
  /** Rows beyond one per report: must be 0. */
  duplicateRows: number;
  /** Messages of the case's devices dead-lettered (archived by iot-uplink): must be 0. */
  deadLetters: number;
  /** Reports that entered RabbitMQ more than once and were stored once. */
  duplicatesSuppressed: number;
  /** Distinct reports the WebSocket client saw live, and those it had to read from the log after reconnecting. */
  wsLive: number;
  wsBackfilled: number;
  /** Reports the WebSocket client got twice (live push is at least once too). */
  wsDuplicates: number;
  commands: number;
  commandsAcked: number;
  /** Command requests the API left unanswered for 10 s (then tried again with the same Idempotency-Key): must be 0. */
  apiStalls: number;
  /** Command deliveries the devices saw more than once (harmless: they answer each with the same correlationId). */
  commandRedeliveries: number;
  /** From the end of the fault until the log held every report sent before it ended. */
  recoverMs: number;
}

interface Device {
  id: string;
  client: mqtt.MqttClient;
  sent: number;
  calls: Map<string, number>;
}

export async function runFaultStream(ends: StreamEnds, name: string, fault: () => Promise<void>, options: StreamOptions): Promise<FaultReport> {
  const { tag, devices: deviceCount = 3, rate = 40, seconds = 12, commandRate = 2, commandTimeoutMs, padding = 0, faultAt = 0.3, settleMs = 60_000 } = options;
  const ids = Array.from({ length: deviceCount }, (_, i) => `${tag}-d${i}`);
  for (const id of ids) {
    const res = await ends.api.post("/api/v1/devices", { id, vendor: "generic" });
    if (res.status !== 201) throw new Error(`registering ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await options.beforeStream?.(ids);
  const tap = await openTap(ends.rabbitmqUrl, `fault-tap.${tag}`);
  const dashboard = await openDashboard(ends.wsUrl, ends.token, ids);
  const devices = await Promise.all(ids.map((id) => connectDevice(ends.mqttUrl, id)));
  const filler = "x".repeat(padding);

  try {
    const started = Date.now();
    const durationMs = seconds * 1000;
    // Recovery: from the end of the fault until the log holds every report sent before it ended.
    const recovered = (async () => {
      await Bun.sleep(durationMs * faultAt);
      await fault();
      const faultEnded = Date.now();
      const sentAtFaultEnd = devices.map((d) => d.sent);
      const expected = sentAtFaultEnd.reduce((a, b) => a + b, 0);
      for (;;) {
        if ((await countUpTo(ends.sql, ids, sentAtFaultEnd)) === expected) return Date.now() - faultEnded;
        if (Date.now() - faultEnded > settleMs) throw new Error(`${name}: the reports sent before the fault ended are not all in the log after ${settleMs} ms`);
        await Bun.sleep(50);
      }
    })();

    const publishes: Promise<unknown>[] = [];
    const commandIds: string[] = [];
    const stalls = { count: 0 };
    const commandsDone = sendCommands(ends.api, ids, { rate: commandRate, timeoutMs: commandTimeoutMs }, durationMs, commandIds, stalls);
    // Open loop: each report leaves when it is due, whatever happened to the ones before it.
    for (let tick = 0; Date.now() - started < durationMs; tick++) {
      for (const d of devices) {
        const n = d.sent++;
        const report = { id: `${d.id}-${n}`, ts: Date.now(), data: { n, ...(padding ? { pad: filler } : {}) } };
        publishes.push(d.client.publishAsync(`generic/${d.id}/property/report`, JSON.stringify(report), { qos: 1 }));
      }
      const due = started + ((tick + 1) * 1000) / rate;
      await Bun.sleep(Math.max(0, due - Date.now()));
    }
    await commandsDone;
    const sent = devices.reduce((sum, d) => sum + d.sent, 0);
    const recoverMs = await recovered;
    await Promise.all(publishes);
    await eventually(async () => (await logCounts(ends.sql, ids)).distinct === sent, settleMs, `${name}: all ${sent} reports in the log`);
    await eventually(async () => (await commandStates(ends.sql, ids)).open === 0, settleMs, `${name}: every command settled`);
    // The live feed may lag the log by a moment; a client that lost its socket fills its gap from the log.
    await eventually(() => dashboard.reports.size === sent || undefined, 5000, "dashboard caught up").catch(() => {});
    const wsLive = dashboard.reports.size;
    const wsBackfilled = await dashboard.backfill(ends.api);

    const log = await logCounts(ends.sql, ids);
    const states = await commandStates(ends.sql, ids);
    if (states.acked < commandIds.length) {
      // What became of the commands that were not acked, and their history, to tell why.
      const unacked = await ends.sql`
        select c.id, c.status, c.reason, c.created_at, array_agg(t.status || '@' || to_char(t.at, 'HH24:MI:SS.MS') order by t.seq) as history
        from commands c join command_transitions t on t.command_id = c.id
        where c.device_id = any(${ids}) and c.job_id is null and c.status <> 'acked' group by c.id`;
      const replies = await ends.sql`
        select correlation_id, kind, received_at from message_log where correlation_id = any(${unacked.map((c) => c.id)})`;
      const calls = devices.flatMap((d) => unacked.filter((c) => d.calls.has(c.id)).map((c) => `${d.id} got ${c.id} x${d.calls.get(c.id)}`));
      console.log(`${name}: not acked: ${JSON.stringify(unacked)}; replies in the log: ${JSON.stringify(replies)}; device calls: ${JSON.stringify(calls)}`);
    }
    const report: FaultReport = {
      name,
      sent,
      received: log.distinct,
      duplicateRows: log.rows - log.distinct,
      deadLetters: await deadLetterCount(ends.sql, ids),
      duplicatesSuppressed: tap.duplicates(),
      wsLive,
      wsBackfilled,
      wsDuplicates: dashboard.duplicates,
      commands: commandIds.length,
      commandsAcked: states.acked,
      apiStalls: stalls.count,
      commandRedeliveries: devices.reduce((sum, d) => sum + [...d.calls.values()].reduce((a, c) => a + c - 1, 0), 0),
      recoverMs,
    };
    const deliveredToDevices = commandIds.filter((id) => devices.some((d) => d.calls.has(id))).length;
    if (deliveredToDevices !== commandIds.length) throw new Error(`${name}: ${commandIds.length - deliveredToDevices} commands never reached their device`);

    await options.afterStream?.();
    console.log(
      `fault report | ${name} | sent ${report.sent} | received ${report.received} | duplicates suppressed ${report.duplicatesSuppressed} | duplicate rows ${report.duplicateRows} | dead letters ${report.deadLetters}` +
        ` | ws live ${report.wsLive} + ${report.wsBackfilled} from the log (${report.wsDuplicates} twice) | commands ${report.commandsAcked}/${report.commands} acked (${report.commandRedeliveries} redelivered, ${report.apiStalls} API stalls) | recovered in ${report.recoverMs} ms`,
    );
    return report;
  } finally {
    await Promise.all(devices.map((d) => d.client.endAsync(true)));
    dashboard.close();
    await tap.close();
  }
}

async function connectDevice(url: string, id: string): Promise<Device> {
  // A persistent session: a command queued for the device while the broker restarts is still delivered.
  const client = await mqtt.connectAsync(url, {
    clientId: id,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 200,
  });
  const device: Device = { id, client, sent: 0, calls: new Map() };
  client.on("message", (topic, payload) => {
    if (topic !== `generic/${id}/service/call`) return;
    const call = JSON.parse(payload.toString()) as { correlationId: string };
    device.calls.set(call.correlationId, (device.calls.get(call.correlationId) ?? 0) + 1);
    void client.publishAsync(`generic/${id}/service/reply`, JSON.stringify({ correlationId: call.correlationId, code: 0, data: { ok: true } }), { qos: 1 });
  });
  await client.subscribeAsync(`generic/${id}/service/call`, { qos: 1 });
  return device;
}

/** Commands at a steady rate; one the API cannot take now (a 5xx, a refused connection) is tried again. */
async function sendCommands(
  api: StreamEnds["api"],
  ids: string[],
  { rate, timeoutMs }: { rate: number; timeoutMs: number | undefined },
  durationMs: number,
  out: string[],
  stalls: { count: number },
): Promise<void> {
  if (rate <= 0) return;
  const started = Date.now();
  for (let k = 0; Date.now() - started < durationMs; k++) {
    const device = ids[k % ids.length]!;
    for (let attempt = 0; ; attempt++) {
      // The same key on every try: a retry whose first attempt did go through returns that command.
      const post = api.post(`/api/v1/devices/${device}/commands`, { service: "ping", params: { k }, timeoutMs }, { "idempotency-key": `${device}-${k}` });
      // An answer that takes over 10 s counts as none (and is reported): the retry carries the same key.
      const res = await Promise.race([post.catch(() => null), Bun.sleep(10_000).then(() => "stalled" as const)]);
      if (res === "stalled") {
        stalls.count++;
        continue;
      }
      if (res?.status === 202) {
        out.push(res.body.id);
        break;
      }
      if (res && res.status < 500) throw new Error(`command refused: ${res.status} ${JSON.stringify(res.body)}`);
      if (attempt > 300) throw new Error("the API took no command for 60 s");
      await Bun.sleep(200);
    }
    await Bun.sleep(Math.max(0, started + ((k + 1) * 1000) / rate - Date.now()));
  }
}

async function logCounts(sql: postgres.Sql, ids: string[]): Promise<{ rows: number; distinct: number }> {
  const [row] = await sql<{ rows: number; distinct: number }[]>`
    select count(*)::int as rows, count(distinct (device_id, data->>'n'))::int as distinct
    from message_log where device_id = any(${ids}) and kind = 'property.report'`;
  return row!;
}

async function countUpTo(sql: postgres.Sql, ids: string[], sentBefore: number[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(distinct (m.device_id, m.data->>'n'))::int as n
    from message_log m join unnest(${ids}::text[], ${sentBefore}::int[]) as s(device_id, upto) on s.device_id = m.device_id
    where m.kind = 'property.report' and (m.data->>'n')::int < s.upto`;
  return row!.n;
}

async function deadLetterCount(sql: postgres.Sql, ids: string[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from dead_letters where device_id = any(${ids})`;
  return row!.n;
}

/** The stream's own REST commands (a case may run a job over the same devices, counted apart). */
async function commandStates(sql: postgres.Sql, ids: string[]): Promise<{ open: number; acked: number }> {
  const [row] = await sql<{ open: number; acked: number }[]>`
    select count(*) filter (where status not in ('acked', 'failed', 'timeout', 'cancelled', 'expired'))::int as open,
           count(*) filter (where status = 'acked')::int as acked
    from commands where device_id = any(${ids}) and job_id is null`;
  return row!;
}

/**
 * A durable queue bound to the device stage, beside iot-uplink-queue: every raw frame that enters
 * RabbitMQ, so a frame relayed twice (and stored once) is counted. Reconnects by itself (amqplib
 * recovery), for the case that restarts RabbitMQ.
 */
async function openTap(url: string, queue: string) {
  const seen = new Map<string, number>();
  const connection = await amqplib.connect(url, {
    recovery: {
      initialDelay: 100,
      maxDelay: 1000,
      setup: async (model: amqplib.ChannelModel) => {
        const ch = await model.createChannel();
        await ch.assertExchange(EXCHANGE, "topic", { durable: true });
        await ch.assertQueue(queue, { durable: true });
        await ch.bindQueue(queue, EXCHANGE, "iot.*.device.#");
        await ch.consume(queue, (m) => {
          if (!m) return;
          const body = JSON.parse(m.content.toString()) as { id?: string };
          if (body.id) seen.set(body.id, (seen.get(body.id) ?? 0) + 1);
          ch.ack(m);
        });
      },
    },
  });
  connection.on("error", () => {});
  return {
    duplicates: () => [...seen.values()].reduce((sum, n) => sum + n - 1, 0),
    close: async () => {
      const ch = await connection.createChannel().catch(() => null);
      await ch?.deleteQueue(queue).catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}
