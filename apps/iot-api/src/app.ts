import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { connectServiceBus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { healthResponse, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { commandRepository, deviceRepository, openMigratedDatabase, thingModelRepository } from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { createCommandIntake } from "./command-intake";
import { docsAssets } from "./docs-assets";
import { toHttpError } from "./errors";
import { commandRoutes } from "./routes/commands";
import { deviceRoutes } from "./routes/devices";
import { messageRoutes } from "./routes/messages";
import { requestRoutes } from "./routes/requests";
import { thingModelRoutes } from "./routes/thing-models";

/** iot-api: the REST API (Elysia) with its OpenAPI document and UI, all served offline. */
export function createApp(config: UmosConfig, { log }: AppDeps): App {
  return serviceApp(log, config.api.port, async (resources) => {
    const db = resources.use(await openMigratedDatabase(config.postgres, log), (d) => d.close());
    const bus = resources.use(await connectServiceBus(config.rabbitmq, "iot-api", config.instance, log), (b) => b.close());
    const devices = deviceRepository(db.sql);
    const commands = commandRepository(db.sql);
    const thingModels = thingModelRepository(db.sql);
    const submit = createCommandIntake(bus, devices, commands, createModelCache((id, version) => thingModels.get(id, version)), config.commands);
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
          documentation: { info: { title: "UMOS API", version: "0.1.0", description: "Devices, thing models, commands and their messages." } },
        }),
      )
      .get("/health", ({ request }) => healthResponse(request, probes), { detail: { hide: true } })
      .get("/ready", ({ request }) => healthResponse(request, probes), { detail: { hide: true } })
      .use(deviceRoutes(devices, submit))
      .use(messageRoutes(db.sql, devices))
      .use(commandRoutes(submit, commands, bus))
      .use(thingModelRoutes(thingModels))
      .use(requestRoutes(db.sql, devices, bus))
      .listen({ hostname: config.api.host, port: config.api.port });
    resources.use(app, (a) => a.stop(true));
    log.info("iot-api ready", { port: app.server!.port, docs: "/openapi" });
    return app.server!.port!;
  });
}
