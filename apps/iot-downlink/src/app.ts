import { firmwareLinks, linkKey } from "@umos/auth";
import { readEnvelope, type Bus } from "@umos/bus";
import type { DownlinkConfig } from "@umos/config";
import { KINDS, QUEUES, type Envelope } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { serveHealth, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { commandRepository, deviceRepository, jobRepository, thingModelRepository, withOutagesAsUnavailable, type Database } from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { startCommandScheduler } from "./command-scheduler";
import { createCommandSender } from "./command-sender";
import { startJobRunner } from "./job-runner";
import { createReplyCorrelation } from "./reply-correlation";
import { createRequestReply } from "./request-reply";
import { createStatusAnnouncer } from "./status-announcer";

/** What iot-downlink is put together on: the bus, and the database that holds the commands. */
export interface DownlinkParts extends AppDeps {
  bus: Bus;
  db: Database;
}

/** iot-downlink: turns commands into vendor frames, follows each until the device answers or it times out, and runs jobs. */
export function createApp(config: DownlinkConfig, { log, obs, bus, db }: DownlinkParts): App {
  return serviceApp(log, config.downlink.port, async (resources) => {
    const commands = commandRepository(db.sql);
    obs.metrics.countDevicesActive(() => deviceRepository(db.sql).countOnline());
    const thingModels = thingModelRepository(db.sql);
    const announce = createStatusAnnouncer(bus, obs.tracer, obs.metrics);
    const models = createModelCache((id, version) => thingModels.get(id, version));
    const linksKey = linkKey(config.firmware.urlSecret, config.auth.algorithm === "HS256" ? config.auth.secret : undefined);
    const send = createCommandSender({ publisher: bus, commands, models, announce, tracer: obs.tracer, log });
    const correlate = createReplyCorrelation(commands, announce, log);
    // One table to dispatch: the kinds on iot.*.service.#.
    const handlers: Record<string, (envelope: Envelope) => Promise<void>> = {
      [KINDS.serviceCall]: (envelope) => send(commandIdOf(envelope)),
      [KINDS.propertySet]: (envelope) => send(commandIdOf(envelope)),
      [KINDS.serviceReply]: correlate,
      [KINDS.requestReply]: createRequestReply(bus),
    };
    resources.use(
      startCommandScheduler({ commands, announce, send, intervalMs: config.downlink.sweepIntervalMs, log }),
      (s) => s.stop(),
      "the command scheduler",
    );
    resources.use(
      startJobRunner({
        jobs: jobRepository(db.sql),
        firmware: {
          links: linksKey === undefined ? null : firmwareLinks(linksKey),
          publicUrl: config.firmware.publicUrl,
          urlTtlSec: config.firmware.urlTtlSec,
        },
        send,
        publisher: bus,
        metrics: obs.metrics,
        intervalMs: config.downlink.jobIntervalMs,
        log,
      }),
      (r) => r.stop(),
      "the job runner",
    );
    // A database outage is waited out, not counted against the message (fault suite: PostgreSQL unreachable).
    const consumer = await bus.consume(
      { queue: QUEUES.downlink },
      withOutagesAsUnavailable(async (message) => {
        const envelope = readEnvelope(message);
        const handler = handlers[envelope.kind];
        if (!handler) throw new InvalidInputError("unsupported_kind", `iot-downlink takes no '${envelope.kind}' messages`);
        await handler(envelope);
      }),
    );
    resources.use(consumer, (c) => c.stop(), "the consumer of iot-downlink-queue");
    const server = resources.use(
      serveHealth({
        host: config.downlink.host,
        port: config.downlink.port,
        allowedHosts: config.allowedHosts,
        probes: [bus.probe, db.probe],
        metrics: obs.metrics,
      }),
      (s) => s.stop(true),
      "the HTTP server",
    );
    log.info("iot-downlink ready", { port: server.port });
    return server.port!;
  });
}

function commandIdOf(envelope: Envelope): string {
  if (!envelope.correlationId) throw new InvalidInputError("missing_correlation", "a command without correlationId cannot be tracked");
  return envelope.correlationId;
}
