import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { createVerifier } from "@umos/auth";
import { tracedFetch } from "@umos/observability";
import { connectServiceBus } from "@umos/bus";
import type { UmosConfig } from "@umos/config";
import { healthResponse, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { commandRepository, credentialRepository, deadLetterRepository, deviceRepository, openMigratedDatabase, thingModelRepository } from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { createInfluxQuery } from "@umos/timeseries";
import { createCommandIntake } from "./command-intake";
import { docsAssets } from "./docs-assets";
import { createAccessCheck } from "./access";
import { consoleConfigRoute, consolePage } from "./console";
import { createDeadLetterReplay } from "./dead-letter-replay";
import { toHttpError } from "./errors";
import { createMqttAuth } from "./mqtt-auth";
import { withDeadline } from "./request-deadline";
import { commandRoutes } from "./routes/commands";
import { deadLetterRoutes } from "./routes/dead-letters";
import { deviceRoutes } from "./routes/devices";
import { messageRoutes } from "./routes/messages";
import { requestRoutes } from "./routes/requests";
import { telemetryRoutes } from "./routes/telemetry";
import { thingModelRoutes } from "./routes/thing-models";
import { vernemqRoutes } from "./routes/vernemq";

/** iot-api: the REST API (Elysia) with its OpenAPI document and UI, all served offline. */
export function createApp(config: UmosConfig, { log, obs }: AppDeps): App {
  return serviceApp(log, config.api.port, async (resources) => {
    const db = resources.use(await openMigratedDatabase(config.postgres, log), (d) => d.close());
    const bus = resources.use(await connectServiceBus(config.rabbitmq, "iot-api", config.instance, log, obs), (b) => b.close());
    const devices = deviceRepository(db.sql);
    const commands = commandRepository(db.sql);
    const thingModels = thingModelRepository(db.sql);
    const credentials = credentialRepository(db.sql);
    const deadLetters = deadLetterRepository(db.sql);
    const submit = createCommandIntake(bus, devices, commands, createModelCache((id, version) => thingModels.get(id, version)), config.commands);
    const probes = [bus.probe, db.probe];
    obs.metrics.countDevicesActive(() => devices.countOnline());
    const { url: influxUrl } = config.influx;
    const influx = influxUrl ? createInfluxQuery({ ...config.influx, url: influxUrl }) : null;
    const checkAccess = createAccessCheck(config.auth.enabled ? createVerifier(config.auth) : null, config.auth.webhookToken);
    const tls = config.api.tls ? { cert: Bun.file(config.api.tls.certFile), key: Bun.file(config.api.tls.keyFile) } : undefined;
    // Filled by the router for the HTTP metrics' route label and the span name (tracedFetch).
    const routes = new WeakMap<Request, string>();
    // normalize: false, so a schema that forbids unknown fields refuses them rather than dropping them silently.
    const app = new Elysia({ normalize: false })
      .onTransform({ as: "global" }, ({ request, route }) => void routes.set(request, route))
      .onError(({ code, error, set }) => {
        const reply = toHttpError(code, error, log);
        set.status = reply.status;
        if (reply.status === 401) set.headers["www-authenticate"] = 'Bearer realm="umos"';
        return reply.body;
      })
      // Identity first, before a body is parsed or validated: a stranger learns nothing of the schema.
      .onRequest(({ request }) => checkAccess(request))
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
      .get("/metrics", () => obs.metrics.response(), { detail: { hide: true } })
      .use(consoleConfigRoute(config))
      .use(deviceRoutes(devices, credentials, submit))
      .use(messageRoutes(db.sql, devices))
      .use(commandRoutes(submit, commands, bus))
      .use(thingModelRoutes(thingModels))
      .use(deadLetterRoutes(deadLetters, createDeadLetterReplay(bus, deadLetters)))
      .use(requestRoutes(db.sql, devices, bus))
      .use(telemetryRoutes(devices, influx, { maxPoints: config.influx.maxQueryPoints, maxRangeMs: config.influx.maxQueryRangeDays * 86_400_000 }))
      .use(vernemqRoutes(createMqttAuth(credentials, config.mqtt), config.auth.webhookCacheSec));
    const server = Bun.serve({
      hostname: config.api.host,
      port: config.api.port,
      tls,
      maxRequestBodySize: config.api.bodyLimitBytes,
      // The web console at `/`, bundled once; development mode would rebuild it per request and inject hot reloading.
      routes: { "/": consolePage },
      development: false,
      fetch: tracedFetch(obs, withDeadline((request) => app.handle(request), config.api.requestTimeoutMs, log), (request) => routes.get(request)),
    });
    resources.use(server, (s) => s.stop(true));
    log.info("iot-api ready", { port: server.port, docs: "/openapi" });
    return server.port!;
  });
}
