import { resolve } from "node:path";
import amqplib from "amqplib";
import { EXCHANGE, HEADERS, type Envelope } from "@umos/contracts";
import { closeAll, openWsClient } from "../clients/ws-client";
import { waitUntil } from "../load/path";
import { spawnReference } from "../reference/spawn";
import type { ScenarioResult } from "../results";
import { latencyRecorder } from "../stats/latency";
import { startUsage, type WatchedProcess } from "../stats/process-usage";
import { watched } from "../stats/watched";
import type { PlatformScenario } from "./platform";

const DEVICE = "fanout-0";
/** The budgets' fan-out: 10,000 connected clients. */
const CLIENTS = 10_000;
const BROADCASTS = 20;
/** Connections opened at once: enough to connect 10,000 in seconds without a thundering herd of upgrades. */
const CONNECT_BATCH = 250;
/** A pause between broadcasts, so each is measured alone. */
const GAP_MS = 200;

interface FanoutTarget {
  id: string;
  title: string;
  wsUrl: string;
  token: string;
  /** Sends broadcast `envelope` the way this target takes it. */
  broadcast(envelope: Envelope): void;
  processes(): WatchedProcess[];
}

/**
 * Connects 10,000 clients subscribed to one device, sends BROADCASTS messages one at a time, and
 * records the time until each client has each one, and until the last client has it.
 */
async function measureFanout(target: FanoutTarget): Promise<ScenarioResult> {
  const publishedAt: number[] = [];
  const delivered = new Array<number>(BROADCASTS).fill(0);
  const slowest = new Array<number>(BROADCASTS).fill(0);
  const deliveries = latencyRecorder();
  const sockets: WebSocket[] = [];
  try {
    for (let opened = 0; opened < CLIENTS; opened += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, CLIENTS - opened);
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: batch }, () => {
            let seen = 0;
            return openWsClient(target.wsUrl, target.token, { devices: [DEVICE] }, () => {
              const k = seen++;
              const latency = performance.now() - publishedAt[k]!;
              deliveries.record(latency);
              slowest[k] = Math.max(slowest[k]!, latency);
              delivered[k]!++;
            });
          }),
        )),
      );
    }
    const usage = startUsage(target.processes());
    for (let k = 0; k < BROADCASTS; k++) {
      const envelope: Envelope = { id: Bun.randomUUIDv7(), ts: Date.now(), vendor: "generic", deviceId: DEVICE, kind: "property.report", data: { k } };
      publishedAt[k] = performance.now();
      target.broadcast(envelope);
      await waitUntil(() => delivered[k] === sockets.length, 10_000);
      await Bun.sleep(GAP_MS);
    }
    const total = delivered.reduce((a, b) => a + b, 0);
    const last = latencyRecorder();
    for (const ms of slowest) last.record(ms);
    const counts = { clients: sockets.length, broadcasts: BROADCASTS };
    return {
      id: target.id,
      title: `${target.title}: one message to ${sockets.length.toLocaleString("en-US")} clients`,
      phases: {
        "every client": { messages: total, latency: deliveries.summary(), usage: usage.stop(total), missing: BROADCASTS * sockets.length - total, counts },
        "last client": { messages: BROADCASTS, latency: last.summary(), usage: {}, counts },
      },
    };
  } finally {
    await closeAll(sockets);
  }
}

/**
 * The fan-out's reference, measured just before iot-ws on the same machine: a bare Bun server
 * (reference/bare-ws-server.ts) sending natively to the same 10,000 clients. iot-ws's figure over
 * this one is what UMOS adds to the machine's floor.
 */
export const wsFanoutBare: PlatformScenario = {
  id: "wsFanoutBare",
  async run({ stack }) {
    const server = await spawnReference("bare-ws", resolve(import.meta.dir, "../reference/bare-ws-server.ts"));
    const base = `127.0.0.1:${server.banner}`;
    try {
      return await measureFanout({
        id: "wsFanoutBare",
        title: "WebSocket fan-out, bare Bun server.publish (reference)",
        wsUrl: `ws://${base}/ws`,
        token: stack.token,
        broadcast: (envelope) => void fetch(`http://${base}/publish`, { method: "POST", body: JSON.stringify(envelope) }),
        processes: () => [server.process, watched.bench()],
      });
    } finally {
      await server.stop();
    }
  },
};

/**
 * iot-ws fan-out: every client subscribed to one device; a validated message is published to the
 * `iot` exchange as iot-uplink would. Budget: to the last of 10,000 clients within 100 ms p99 (bench/budgets.json).
 */
export const wsFanout: PlatformScenario = {
  id: "wsFanout",
  async run({ stack, processes }) {
    const connection = await amqplib.connect(stack.vhost.url);
    try {
      const channel = await connection.createChannel();
      return await measureFanout({
        id: "wsFanout",
        title: "WebSocket fan-out",
        wsUrl: stack.platform.wsUrl,
        token: stack.token,
        broadcast: (envelope) =>
          void channel.publish(EXCHANGE, "iot.generic.event.property.report", Buffer.from(JSON.stringify(envelope)), {
            contentType: "application/json",
            headers: { [HEADERS.deviceId]: DEVICE, [HEADERS.vendor]: "generic" },
          }),
        processes,
      });
    } finally {
      await connection.close();
    }
  },
};
