import { silentLogger } from "@umos/core";
import { eventually } from "@umos/testkit";
import type { Bus, BusMessage, BusOptions, ConsumeOptions, Consumer } from "../types";

/** A broker of the test's own (a vhost, a temporary file) and the buses connected to it. */
export interface BrokerUnderTest {
  url: string;
  dispose(): Promise<void>;
}

export const CONTRACT_OPTIONS = {
  name: "bus-contract",
  queueType: "classic",
  prefetch: 50,
  reconnectInitialMs: 20,
  reconnectMaxMs: 200,
  maxAttempts: 3,
  log: silentLogger,
} satisfies Omit<BusOptions, "url">;

export interface Scene {
  /** A bus on the test's broker; several share it as the services of a process do. */
  connect(): Promise<Bus>;
  collect(bus: Bus, options: ConsumeOptions, onMessage?: (m: BusMessage) => Promise<void>): Promise<Collected>;
}

export interface Collected extends Consumer {
  messages: BusMessage[];
  bodies(): string[];
}

/** Runs one case on a broker of its own from `open`, and closes its consumers, buses and broker after. */
export type RunScene = (run: (s: Scene) => Promise<void>) => Promise<void>;

export function sceneRunner(open: () => Promise<BrokerUnderTest>, connect: (options: BusOptions) => Promise<Bus>): RunScene {
  return async function scene(run: (s: Scene) => Promise<void>): Promise<void> {
    const broker = await open();
    const buses: Bus[] = [];
    const consumers: Consumer[] = [];
    try {
      await run({
        async connect() {
          const bus = await connect({ ...CONTRACT_OPTIONS, url: broker.url });
          buses.push(bus);
          return bus;
        },
        async collect(bus, options, onMessage) {
          const messages: BusMessage[] = [];
          const consumer = await bus.consume(options, async (m) => {
            await onMessage?.(m);
            messages.push(m);
          });
          consumers.push(consumer);
          return { messages, bodies: () => messages.map((m) => m.body.toString()), stop: () => consumer.stop() };
        },
      });
    } finally {
      for (const consumer of consumers) await consumer.stop();
      for (const bus of buses) await bus.close();
      await broker.dispose();
    }
  };
}

export const body = (text: string) => Buffer.from(text);
export const until = (check: () => boolean, what: string) => eventually(check, 10_000, what);
