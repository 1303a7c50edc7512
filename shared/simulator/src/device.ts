import mqtt from "mqtt";
import { answerOf, type DeviceBehaviour, type Frame } from "./behaviour";

export interface ConnectOptions {
  brokerUrl: string;
  /** 4 (MQTT 3.1.1, what every broker speaks, aedes included) or 5. */
  protocolVersion?: 4 | 5;
  /** The MQTT client id; the device id by default (docs/standalone.md: MQTT broker). */
  clientId?: string;
  /** The device's credentials from its registration; a broker without authentication ignores them. */
  password?: string;
  /** Reconnect after the broker drops the connection; off for a bench's fixed fleet. */
  reconnectMs?: number;
  keepaliveSec?: number;
  /**
   * How long the device takes to act on a command before it answers, as a real one does (a dock
   * opening its cover takes seconds); 0 answers at once, which a load generator wants.
   */
  answerDelayMs?: number;
  /** A send or receive error, which a simulated device survives. */
  onError?: (deviceId: string, err: Error) => void;
}

/** What a simulated device did, for the simulator's log line and the tests. */
export interface DeviceCounters {
  sent: number;
  received: number;
  answered: number;
}

/** A device's behaviour on a real MQTT connection: every frame at QoS 1. */
export interface SimulatedDevice {
  readonly behaviour: DeviceBehaviour;
  readonly counters: DeviceCounters;
  readonly connected: boolean;
  /** Subscribes to its command topics and answers what arrives there from now on. */
  listen(): Promise<void>;
  /** Its birth frames, now and after every reconnect. */
  announce(): Promise<void>;
  report(): void;
  event(): void;
  /** A raw frame, for a load generator that brings its own payloads. */
  publish(topic: string, payload: string | Buffer): void;
  /** Drops the connection without a DISCONNECT, as a power cut does: the broker sends its last will. */
  drop(): Promise<void>;
  /** Connects again after `drop()`, subscribed and announced as before. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function connectDevice(behaviour: DeviceBehaviour, options: ConnectOptions): Promise<SimulatedDevice> {
  const counters: DeviceCounters = { sent: 0, received: 0, answered: 0 };
  const onError = (err?: Error) => {
    if (err) options.onError?.(behaviour.id, err);
  };
  let listening = false;
  let announcing = false;
  let closed = false;
  const open = async () => {
    const client = await mqtt.connectAsync(options.brokerUrl, {
      clientId: options.clientId ?? behaviour.id,
      username: options.password === undefined ? undefined : behaviour.id,
      password: options.password,
      protocolVersion: options.protocolVersion ?? 4,
      clean: true,
      keepalive: options.keepaliveSec ?? 30,
      reconnectPeriod: options.reconnectMs ?? 0,
      will: behaviour.will ? { topic: behaviour.will.topic, payload: Buffer.from(behaviour.will.payload), qos: 1, retain: false } : undefined,
    });
    client.on("error", onError);
    client.on("message", (topic, payload) => {
      counters.received++;
      const { frames, later } = answerOf(behaviour.receive(topic, payload.toString()));
      const answer = () => {
        for (const out of frames) {
          counters.answered++;
          send(out.topic, out.payload);
        }
        if (later) void follow(later);
      };
      if (frames.length > 0 && options.answerDelayMs) setTimeout(answer, options.answerDelayMs);
      else answer();
    });
    // mqtt.js subscribes again by itself after a reconnect; the birth message is ours to repeat.
    client.on("connect", () => {
      if (announcing) for (const out of behaviour.announce()) send(out.topic, out.payload);
    });
    if (listening) await client.subscribeAsync([...behaviour.subscriptions], { qos: 1 });
    return client;
  };
  let client = await open();
  const send = (topic: string, payload: string | Buffer) => {
    counters.sent++;
    client.publish(topic, payload, { qos: 1 }, onError);
  };
  // Sends a command's later frames as they come, on whichever connection is up by then; close() ends it.
  const follow = async (work: AsyncIterable<Frame>) => {
    try {
      for await (const out of work) {
        if (closed) break;
        send(out.topic, out.payload);
      }
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const announceNow = () =>
    Promise.all(
      behaviour.announce().map((out) => {
        counters.sent++;
        return client.publishAsync(out.topic, out.payload, { qos: 1 });
      }),
    );

  return {
    behaviour,
    counters,
    get connected() {
      return client.connected;
    },
    async listen() {
      listening = true;
      await client.subscribeAsync([...behaviour.subscriptions], { qos: 1 });
    },
    async announce() {
      announcing = true;
      await announceNow();
    },
    report() {
      for (const out of behaviour.report()) send(out.topic, out.payload);
    },
    event() {
      for (const out of behaviour.event()) send(out.topic, out.payload);
    },
    publish: send,
    async drop() {
      // end(true) destroys the socket without a DISCONNECT packet (mqtt.js _cleanUp), so the will goes out [MQTT-3.1.2-8].
      await client.endAsync(true);
    },
    async restore() {
      client = await open();
      if (announcing) await announceNow();
    },
    async close() {
      closed = true;
      await client.endAsync();
    },
  };
}
