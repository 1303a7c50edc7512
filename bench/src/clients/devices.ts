import { connectDevice, type GenericOptions, genericDevice, type SimulatedDevice } from "@umos/simulator";

export interface DeviceFleet {
  readonly ids: readonly string[];
  /** Device `seq % size` reports a property frame at QoS 1. */
  report(seq: number, payload: Buffer): void;
  /** Every device answers each service call on its reply topic with code 0, as a generic device does. */
  answerCalls(): Promise<void>;
  /** The birth message of every device (docs/interfaces.md: presence), so commands are sent to them at once. */
  announceOnline(): Promise<void>;
  /** Frames each device has received so far (commands, for a generic device), in the order of `ids`. */
  received(): number[];
  /** Frames each device has sent so far (reports, answers, events), in the order of `ids`. */
  sent(): number[];
  close(): Promise<void>;
}

/**
 * The simulator's generic devices (shared/simulator), one MQTT 5 connection each, reporting the
 * bench's own payloads: the same devices `bun run simulate` runs, driven at the bench's pace.
 * `options` are the devices' own (e.g. `installMs`, how long a firmware update takes to install).
 */
export async function connectFleet(brokerUrl: string, ids: readonly string[], options: GenericOptions = {}): Promise<DeviceFleet> {
  const devices: SimulatedDevice[] = await Promise.all(
    ids.map((id) =>
      connectDevice(genericDevice(id, Date.now, options), {
        brokerUrl,
        clientId: `bench-${id}`,
        protocolVersion: 5,
        onError: (_, err) => console.error(`bench device: ${err.message}`),
      }),
    ),
  );
  const reportTopics = ids.map((id) => `generic/${id}/property/report`);
  return {
    ids,
    report(seq, payload) {
      const i = seq % devices.length;
      devices[i]!.publish(reportTopics[i]!, payload);
    },
    answerCalls: async () => void (await Promise.all(devices.map((d) => d.listen()))),
    announceOnline: async () => void (await Promise.all(devices.map((d) => d.announce()))),
    received: () => devices.map((d) => d.counters.received),
    sent: () => devices.map((d) => d.counters.sent),
    close: async () => void (await Promise.all(devices.map((d) => d.close()))),
  };
}
