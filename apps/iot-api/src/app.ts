import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { connectBus, type Bus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { healthResponse, type Logger, type Service } from "@umos/runtime";
import { commandRepository, deviceRepository, migrate, openDatabase, type Database } from "@umos/store";
import { toHttpError } from "./errors";
import { docsAssets } from "./docs-assets";
import { commandRoutes } from "./routes/commands";
import { deviceRoutes } from "./routes/devices";
import { messageRoutes } from "./routes/messages";

export interface ApiDeps {
  log: Logger;
}

export interface ApiApp extends Service {
  readonly port: number;
}

/** iot-api: the REST API (Elysia) with its OpenAPI document and UI, all served offline. */
export function createApp(config: UmosConfig, deps: ApiDeps): ApiApp {
  const { log } = deps;
  let db: Database | undefined;
  let bus: Bus | undefined;
  let server: { stop(): Promise<unknown>; port: number } | undefined;

  return {
    get port() {
      return server?.port ?? config.api.port;
    },

    async start() {
      db = openDatabase(config.postgres);
      await migrate(db.sql, log);
      bus = await connectBus({ ...config.rabbitmq, name: `iot-api@${config.instance}`, log: log.child("bus") });
      const devices = deviceRepository(db.sql);
      const probes = [bus.probe, db.probe];
      const app = new Elysia({ serve: { maxRequestBodySize: config.api.bodyLimitBytes } })
        .onError(({ code, error, set }) => {
          const reply = toHttpError(code, error, log);
          set.status = reply.status;
          return reply.body;
        })
        .use(docsAssets)
        .use(
          openapi({
            path: "/openapi",
            provider: "swagger-ui",
            swagger: { cdn: "/openapi/assets/swagger-ui-bundle.js", theme: "/openapi/assets/swagger-ui.css" },
            documentation: {
              info: { title: "UMOS API", version: "0.1.0", description: "Devices, commands and their messages." },
            },
          }),
        )
        .get("/health", ({ request }) => healthResponse(request, probes), { detail: { hide: true } })
        .get("/ready", ({ request }) => healthResponse(request, probes), { detail: { hide: true } })
        .use(deviceRoutes(devices))
        .use(messageRoutes(db.sql, devices))
        .use(commandRoutes(bus, devices, commandRepository(db.sql)))
        .listen({ hostname: config.api.host, port: config.api.port });
      server = { port: app.server!.port!, stop: () => app.stop(true) };
      log.info("iot-api ready", { port: app.server!.port, docs: "/openapi" });
    },

    async stop() {
      await server?.stop();
      await bus?.close();
      await db?.close();
    },
  };
}
