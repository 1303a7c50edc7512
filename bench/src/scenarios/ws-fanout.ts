import amqplib from "amqplib";
import { EXCHANGE, HEADERS, type Envelope } from "@umos/contracts";
import { closeAll, openWsClient } from "../clients/ws-client";
import { waitUntil } from "../load/path";
import { latencyRecorder } from "../stats/latency";
import { startUsage } from "../stats/process-usage";
import type { PlatformScenario } from "./platform";

const DEVICE = "fanout-0";
/** Issue 8's fan-out: 10,000 connected clients. */
const CLIENTS = 10_000;
const BROADCASTS = 20;
/** Connections opened at once: enough to connect 10,000 in seconds without a thundering herd of upgrades. */
const CONNECT_BATCH = 250;
/** A pause between broadcasts, so each is measured alone. */
const GAP_MS = 200;

/**
 * iot-ws fan-out: every client subscribed to one device; a validated message is published to the
 * `iot` exchange as iot-uplink would, and the time until each client has it is recorded. Budget:
 * to the last of 10,000 clients within 100 ms p99 (issue 8).
 */
export const wsFanout: PlatformScenario = {
  id: "wsFanout",
  async run({ stack, processes }) {
    const publishedAt: number[] = [];
    const delivered = new Array<number>(BROADCASTS).fill(0);
    const slowest = new Array<number>(BROADCASTS).fill(0);
    const deliveries = latencyRecorder();
    const sockets: WebSocket[] = [];
    const connection = await amqplib.connect(stack.vhost.url);
    try {
      for (let opened = 0; opened < CLIENTS; opened += CONNECT_BATCH) {
        const batch = Math.min(CONNECT_BATCH, CLIENTS - opened);
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: batch }, () => {
              let seen = 0;
              return openWsClient(stack.platform.wsUrl, stack.token, { devices: [DEVICE] }, () => {
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
      const channel = await connection.createChannel();
      const usage = startUsage(processes());
      for (let k = 0; k < BROADCASTS; k++) {
        const envelope: Envelope = { id: Bun.randomUUIDv7(), ts: Date.now(), vendor: "generic", deviceId: DEVICE, kind: "property.report", data: { k } };
        publishedAt[k] = performance.now();
        channel.publish(EXCHANGE, "iot.generic.event.property.report", Buffer.from(JSON.stringify(envelope)), {
          contentType: "application/json",
          headers: { [HEADERS.deviceId]: DEVICE, [HEADERS.vendor]: "generic" },
        });
        await waitUntil(() => delivered[k] === sockets.length, 10_000);
        await Bun.sleep(GAP_MS);
      }
      const total = delivered.reduce((a, b) => a + b, 0);
      const last = latencyRecorder();
      for (const ms of slowest) last.record(ms);
      const counts = { clients: sockets.length, broadcasts: BROADCASTS };
      return {
        id: "wsFanout",
        title: `WebSocket fan-out: one message to ${sockets.length.toLocaleString("en-US")} clients`,
        phases: {
          "every client": { messages: total, latency: deliveries.summary(), usage: usage.stop(total), missing: BROADCASTS * sockets.length - total, counts },
          "last client": { messages: BROADCASTS, latency: last.summary(), usage: {}, counts },
        },
      };
    } finally {
      await closeAll(sockets);
      await connection.close();
    }
  },
};
