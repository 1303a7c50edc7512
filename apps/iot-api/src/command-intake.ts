import { publishEnvelope, type Publisher } from "@umos/bus";
import { recordedTraceparent } from "@umos/observability";
import type { UmosConfig } from "@umos/config";
import { commandEnvelope, KINDS, routingKey } from "@umos/contracts";
import { InvalidInputError, UnavailableError } from "@umos/core";
import type { Command, CommandRepository, Device, DeviceRepository } from "@umos/store";
import type { ModelCache, Problem } from "@umos/thing-model";

export interface CommandRequest {
  kind: typeof KINDS.serviceCall | typeof KINDS.propertySet;
  service: string | null;
  params: Record<string, unknown>;
  timeoutMs?: number;
  ttlMs?: number;
  idempotencyKey?: string;
}

/**
 * How a command enters UMOS, for service calls and property sets alike: check it against the
 * device's thing model, store it `queued` (with the desired values of a property set), and tell
 * iot-downlink. A retry with the same Idempotency-Key returns the first command.
 */
export interface CommandIntakeOptions {
  publisher: Publisher;
  devices: DeviceRepository;
  commands: CommandRepository;
  models: ModelCache;
  limits: UmosConfig["commands"];
}

export function createCommandIntake({ publisher, devices, commands, models, limits }: CommandIntakeOptions) {
  return async function submit(deviceId: string, request: CommandRequest): Promise<{ command: Command; replayed: boolean }> {
    const device = await devices.get(deviceId);
    await checkAgainstModel(models, device, request);
    const timeoutMs = bounded("timeoutMs", request.timeoutMs ?? limits.defaultTimeoutMs, limits.maxTimeoutMs);
    const ttlMs = bounded("ttlMs", request.ttlMs ?? limits.defaultTtlMs, limits.maxTtlMs);
    const { command, replayed } = await commands.create({
      id: Bun.randomUUIDv7(),
      deviceId: device.id,
      vendor: device.vendor,
      kind: request.kind,
      service: request.service,
      params: request.params,
      timeoutMs,
      ttlMs,
      idempotencyKey: request.idempotencyKey,
      traceparent: recordedTraceparent(),
    });
    if (replayed) return { command, replayed };
    const envelope = commandEnvelope(command, Bun.randomUUIDv7());
    try {
      await publishEnvelope(publisher, routingKey(device.vendor, "service", request.kind), envelope);
    } catch (err) {
      // The command is stored; iot-downlink's scheduler still sends it once the device is online.
      // Only a bus that is down for good would leave it queued until its TTL expires it.
      if (!(err instanceof UnavailableError)) throw err;
    }
    return { command, replayed };
  };
}

async function checkAgainstModel(models: ModelCache, device: Device, request: CommandRequest): Promise<void> {
  if (!device.model) return;
  const { model } = await models(device.model.id, device.model.version);
  const problems: Problem[] =
    request.kind === KINDS.serviceCall ? model.checkServiceCall(request.service!, request.params) : model.checkPropertySet(request.params);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw new InvalidInputError("invalid_command", `${first.path}: ${first.message}`, problems);
  }
}

function bounded(name: string, value: number, max: number): number {
  if (value > max) throw new InvalidInputError("invalid_command", `${name}: ${value} is above the maximum ${max}`);
  return value;
}
