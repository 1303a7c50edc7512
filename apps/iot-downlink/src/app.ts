import { connectBus, type Bus, type BusMessage, type Consumer } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { KINDS, QUEUES, envelopeChecker, type Envelope } from "@umos/contracts";
import { InvalidInputError, serveHealth, type Logger, type Service } from "@umos/runtime";
import { commandRepository, migrate, openDatabase, type Database } from "@umos/store";
import { createCommandDispatch } from "./command-dispatch";
import { createReplyCorrelation } from "./reply-correlation";

export interface DownlinkDeps {
  log: Logger;
}

export interface DownlinkApp extends Service {
  readonly port: number;
}

type KindHandler = (envelope: Envelope, message: BusMessage) => Promise<void>;

/** iot-downlink: turns commands into vendor frames and follows each until the device answers. */
export function createApp(config: UmosConfig, deps: DownlinkDeps): DownlinkApp {
  const { log } = deps;
  let db: Database | undefined;
  let bus: Bus | undefined;
  let consumer: Consumer | undefined;
  let server: ReturnType<typeof serveHealth> | undefined;

  return {
    get port() {
      return server?.port ?? config.downlink.port;
    },

    async start() {
      db = openDatabase(config.postgres);
      await migrate(db.sql, log);
      bus = await connectBus({ ...config.rabbitmq, name: `iot-downlink@${config.instance}`, log: log.child("bus") });
      const commands = commandRepository(db.sql);
      const dispatch = createCommandDispatch(bus, commands);
      const handlers: Record<string, KindHandler> = {
        [KINDS.serviceCall]: dispatch,
        [KINDS.propertySet]: dispatch,
        [KINDS.serviceReply]: createReplyCorrelation(bus, commands, log),
      };
      consumer = await bus.consume({ queue: QUEUES.downlink }, async (message) => {
        const envelope = readEnvelope(message);
        const handler = handlers[envelope.kind];
        if (!handler) throw new InvalidInputError("unsupported_kind", `iot-downlink takes no '${envelope.kind}' messages`);
        await handler(envelope, message);
      });
      server = serveHealth({ port: config.downlink.port, probes: [bus.probe, db.probe] });
      log.info("iot-downlink ready", { port: server.port });
    },

    async stop() {
      server?.stop(true);
      await consumer?.stop();
      await bus?.close();
      await db?.close();
    },
  };
}

function readEnvelope(message: BusMessage): Envelope {
  let body: unknown;
  try {
    body = JSON.parse(message.body.toString("utf8"));
  } catch {
    throw new InvalidInputError("malformed_json", "service-stage message is not JSON");
  }
  if (!envelopeChecker.Check(body)) {
    const first = envelopeChecker.Errors(body).First();
    throw new InvalidInputError("invalid_envelope", `service-stage message: ${first?.path || "/"}: ${first?.message ?? "invalid"}`);
  }
  return body;
}
