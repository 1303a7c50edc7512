import { QUEUES } from "@umos/contracts";

/**
 * The spine's queues and bindings as data (docs/design.md §2), the same for every broker: the RabbitMQ bus
 * declares them with amqplib (rabbitmq/declare.ts), the embedded bus builds its queues from them.
 */

/** The durable work queues and what each is bound to (docs/design.md §2). */
export const WORK_QUEUES: ReadonlyArray<{ queue: string; binding: string }> = [
  { queue: QUEUES.uplink, binding: "iot.*.device.#" },
  { queue: QUEUES.downlink, binding: "iot.*.service.#" },
  { queue: QUEUES.gateway, binding: "iot.*.gateway.#" },
];

export const WS_BINDING = "iot.*.event.#";

/**
 * Durable queues of optional features, declared by their consumer when it attaches rather than by
 * every service: while the feature is off nobody declares its queue, so no copy of the traffic piles
 * up in RabbitMQ for a consumer that never comes. Turning a feature off for good leaves its queue
 * behind: delete it (`rabbitmqctl delete_queue iot-telemetry-queue`).
 */
export const FEATURE_QUEUES: ReadonlyArray<{ queue: string; bindings: readonly string[] }> = [
  { queue: QUEUES.telemetry, bindings: ["iot.*.event.property.report", "iot.*.event.event.report"] },
  // iot-rules skips the kinds it does not read (requests, alarms), which costs less than a binding per kind.
  { queue: QUEUES.rules, bindings: [WS_BINDING] },
  { queue: QUEUES.notify, bindings: ["iot.*.event.alarm.#", "iot.*.event.status.offline", "iot.*.event.command.status"] },
];

/** The feature queue of that name, or undefined for any other queue. */
export const featureQueue = (queue: string) => FEATURE_QUEUES.find((q) => q.queue === queue);

/** Durable queues the replay of a dead letter can reach: the work queues and the feature queues. */
export const REPLAYABLE_QUEUES: readonly string[] = [...WORK_QUEUES.map((q) => q.queue), ...FEATURE_QUEUES.map((q) => q.queue)];
