import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { createVerifier, firmwareLinks, linkKey, type Principal } from "@umos/auth";
import { tracedFetch } from "@umos/observability";
import { publishEnvelope, type Bus } from "@umos/bus";
import type { ApiConfig } from "@umos/config";
import { storageProblem } from "@umos/contracts";
import { InvalidInputError } from "@umos/core";
import { createHttpGuard, healthResponse, serviceApp, type App, type AppDeps } from "@umos/runtime";
import {
  alarmRepository,
  commandRepository,
  credentialRepository,
  deadLetterRepository,
  deviceRepository,
  firmwareRepository,
  groupRepository,
  jobProgressEvent,
  jobRepository,
  notificationRepository,
  policyOf,
  retentionRepository,
  ruleRepository,
  thingModelRepository,
  type Database,
} from "@umos/store";
import { createModelCache } from "@umos/thing-model";
import { openTimeSeries } from "@umos/timeseries";
import { startingAlarmFlush } from "./alarm-outbox";
import { createCommandIntake } from "./command-intake";
import type { DeviceSessions } from "./routes/devices";
import { docsAssets } from "./docs-assets";
import { accessTable, createAccessCheck, needs, type Access } from "./access";
import { consoleRoutes, loadConsole } from "./console";
import { createDeadLetterReplay } from "./dead-letter-replay";
import { toHttpError } from "./errors";
import { API_PREFIX } from "./schemas";
import { createMqttAuth } from "@umos/mqtt-access";
import { secretBox } from "@umos/notify";
import { withDeadline } from "./request-deadline";
import { alarmRoutes } from "./routes/alarms";
import { commandRoutes } from "./routes/commands";
import { deadLetterRoutes } from "./routes/dead-letters";
import { deviceRoutes } from "./routes/devices";
import { groupRoutes } from "./routes/groups";
import { jobRoutes } from "./routes/jobs";
import { FIRMWARE_UPLOAD_PATH, firmwareRoutes } from "./routes/firmware";
import { directoryStorage } from "./firmware/storage";
import { messageRoutes } from "./routes/messages";
import { notificationRoutes } from "./routes/notifications";
import { requestRoutes } from "./routes/requests";
import { retentionRoutes } from "./routes/retention";
import { ruleRoutes } from "./routes/rules";
import { telemetryRoutes } from "./routes/telemetry";
import { thingModelRoutes } from "./routes/thing-models";
import { vernemqRoutes } from "./routes/vernemq";

/**
 * Headers of every answer: no sniffing of content types, no framing, no referrer leaving the site,
 * and a policy that lets nothing load; the console and docs pages widen it to their own files.
 */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
};

/** What iot-api is put together on. */
export interface ApiParts extends AppDeps {
  bus: Bus;
  db: Database;
  /**
   * The MQTT broker's live sessions, where UMOS can reach them (standalone's embedded broker): a
   * device whose password is rotated, or which is removed, is disconnected at once. Without it the
   * new password takes effect at the device's next connect (VerneMQ: docs/security.md).
   */
  sessions?: DeviceSessions;
}

/** iot-api, started: its listener's port, and the same answers in process. */
export interface ApiApp extends App {
  /**
   * Answers a request as the listener would (Host and path checks, size limit, access, deadline),
   * without a socket: for tests that drive the API in process. A request without a Host header is
   * taken as addressed to its URL's host.
   */
  handle(request: Request): Promise<Response>;
}

/** iot-api: the REST API (Elysia) with its OpenAPI document and UI, all served offline. */
export function createApp(config: ApiConfig, { log, obs, clock, bus, db, sessions }: ApiParts): ApiApp {
  let answer: ((request: Request) => Response | Promise<Response>) | undefined;
  const app = serviceApp(log, config.api.port, async (resources) => {
    const devices = deviceRepository(db.sql);
    const groups = groupRepository(db.sql);
    const commands = commandRepository(db.sql);
    const thingModels = thingModelRepository(db.sql);
    const credentials = credentialRepository(db.sql);
    const deadLetters = deadLetterRepository(db.sql);
    const models = createModelCache((id, version) => thingModels.get(id, version));
    const submit = createCommandIntake({ publisher: bus, devices, commands, models, limits: config.commands });
    const probes = [bus.probe, db.probe];
    obs.metrics.countDevicesActive(() => devices.countOnline());
    const retention = retentionRepository(db.sql);
    const retentionDefaults = policyOf(config.retention);
    const timeseries = openTimeSeries(config, {
      sql: db.sql,
      clock,
      log,
      rawRetentionDays: async () => (await retention.policy(retentionDefaults)).telemetry,
    });
    // Who called, as the token named them: for what records it (retention changes, alarm handling, rules).
    const callers = new WeakMap<Request, string>();
    const callerOf = (request: Request) => callers.get(request) ?? "an admin (authentication off)";
    const flushAlarms = startingAlarmFlush(db.sql, bus, log);
    const linksKey = linkKey(config.firmware.urlSecret, config.auth.algorithm === "HS256" ? config.auth.secret : undefined);
    const verify = config.auth.enabled ? createVerifier(config.auth, clock) : null;
    const tls = config.api.tls ? { cert: Bun.file(config.api.tls.certFile), key: Bun.file(config.api.tls.keyFile) } : undefined;
    // Filled by the router for the HTTP metrics' route label and the span name (tracedFetch).
    const routes = new WeakMap<Request, string>();
    let checkAccess: (request: Request, route: string) => Promise<Principal | null> = () => Promise.reject(new Error("iot-api is not started"));
    // normalize: false, so a schema that forbids unknown fields refuses them rather than dropping them silently.
    const elysia = new Elysia({ normalize: false })
      .headers(SECURITY_HEADERS)
      // Who may call is decided on the route the router matched, before its input is validated: a
      // stranger learns nothing of the schema (docs/design.md §8). Then input no store can hold (U+0000,
      // unpaired surrogates, nesting past 32 levels) is refused before a schema or a query sees it.
      .onTransform({ as: "global" }, async ({ request, route, body, query, params }) => {
        routes.set(request, route);
        const caller = await checkAccess(request, route);
        if (caller) callers.set(request, caller.subject);
        const problem = storageProblem({ body, query, params });
        if (problem) throw new InvalidInputError("invalid_request", `request ${problem.slice(1)}`);
      })
      .onError(({ code, error, set }) => {
        const reply = toHttpError(code, error, log);
        set.status = reply.status;
        if (reply.status === 401) set.headers["www-authenticate"] = 'Bearer realm="umos"';
        return reply.body;
      })
      .use(docsAssets)
      .use(
        openapi({
          path: "/openapi",
          // The UI page is docsAssets' own (no inline script); the plugin serves the document.
          provider: null,
          documentation: { info: { title: "UMOS API", version: "0.1.0", description: "Devices, thing models, commands and their messages." } },
        }),
      )
      .get("/health", ({ request }) => healthResponse(request, probes), { detail: needs("public", { hide: true }) })
      .get("/ready", ({ request }) => healthResponse(request, probes), { detail: needs("public", { hide: true }) })
      .get("/metrics", () => obs.metrics.response(), { detail: needs("public", { hide: true }) })
      .use(consoleRoutes(config, await loadConsole()))
      .use(
        // The REST API, every route under one prefix (docs/interfaces.md, REST).
        new Elysia({ prefix: API_PREFIX })
          .use(deviceRoutes(db.sql, devices, groups, credentials, submit, sessions, timeseries))
          .use(groupRoutes(groups, devices))
          .use(
            jobRoutes({
              jobs: jobRepository(db.sql),
              packages: firmwareRepository(db.sql),
              firmwareLinks: linksKey !== undefined && config.firmware.publicUrl !== undefined,
              announce: async (job) => {
                const event = jobProgressEvent(job);
                await publishEnvelope(bus, event.routingKey, event.envelope).catch((err: unknown) =>
                  log.warn("job progress not published", { jobId: job.id, err }),
                );
              },
              models,
              limits: config.commands,
              callerOf,
            }),
          )
          .use(
            firmwareRoutes({
              packages: firmwareRepository(db.sql),
              storage: directoryStorage(config.firmware.dir),
              links: linksKey === undefined ? null : firmwareLinks(linksKey),
              maxBytes: config.firmware.maxBytes,
              urlTtlSec: config.firmware.urlTtlSec,
              publicUrl: config.firmware.publicUrl,
              callerOf,
            }),
          )
          .use(messageRoutes(db.sql, devices))
          .use(commandRoutes(submit, commands, bus))
          .use(thingModelRoutes(thingModels))
          .use(deadLetterRoutes(deadLetters, createDeadLetterReplay(bus, deadLetters)))
          .use(requestRoutes(db.sql, devices, bus, clock))
          .use(
            telemetryRoutes(devices, timeseries, clock, {
              maxPoints: config.timeseries.maxQueryPoints,
              maxRangeMs: config.timeseries.maxQueryRangeDays * 86_400_000,
            }),
          )
          .use(
            retentionRoutes({
              repo: retention,
              sql: db.sql,
              defaults: retentionDefaults,
              maxDatabaseBytes: config.retention.maxDatabaseBytes,
              callerOf,
            }),
          )
          .use(alarmRoutes({ alarms: alarmRepository(db.sql), devices, flush: flushAlarms, callerOf }))
          .use(ruleRoutes({ rules: ruleRepository(db.sql), devices, thingModels, sql: db.sql, flush: flushAlarms, callerOf }))
          .use(
            notificationRoutes({
              channels: notificationRepository(db.sql),
              secrets: secretBox(config.notifications.secretKey),
              timeoutMs: config.notifications.timeoutMs,
              callerOf,
            }),
          )
          .use(vernemqRoutes(createMqttAuth(credentials, config.mqtt), config.auth.webhookCacheSec)),
      );
    // A route that declares no access stops the start here (deny by default).
    const table: ReadonlyMap<string, Access> = accessTable(elysia.routes);
    checkAccess = createAccessCheck(table, verify, config.auth.webhookToken);
    const guard = createHttpGuard(config.api.host, config.allowedHosts);
    const handle = withDeadline((request) => elysia.handle(request), config.api.requestTimeoutMs, log);
    const serve = async (request: Request) => {
      const limit = bodyLimit(request, config);
      const refused = guard.refuse(request) ?? tooLarge(request, limit);
      if (refused) return refused;
      // A firmware upload streams to storage for as long as it takes, under its own limit (routes/firmware.ts).
      if (limit.streamed) return elysia.handle(request);
      const read = await readUndeclared(request, limit);
      return read instanceof Response ? read : handle(read);
    };
    answer = resources.use(serve, () => (answer = undefined), "the request router");
    const server = Bun.serve({
      hostname: config.api.host,
      port: config.api.port,
      tls,
      // Bun's own refusal past this is an empty 413; bodies that declare their length are refused
      // before it, as the JSON error every client expects (tooLarge), and chunked ones once they
      // pass the limit (readUndeclared).
      maxRequestBodySize: Math.max(config.api.bodyLimitBytes * 4, config.api.importLimitBytes * 4, config.firmware.maxBytes + 1_048_576),
      development: false,
      fetch: tracedFetch(obs, serve, (request) => routes.get(request)),
    });
    resources.use(server, (s) => s.stop(true), "the HTTP server");
    log.info("iot-api ready", { port: server.port, docs: "/openapi" });
    return server.port!;
  });
  return Object.assign(app, {
    async handle(request: Request): Promise<Response> {
      if (!answer) throw new Error("iot-api is not started");
      const addressed = request.headers.has("host")
        ? request
        : new Request(request, { headers: { ...Object.fromEntries(request.headers), host: new URL(request.url).host } });
      return answer(addressed);
    },
  });
}

const IMPORT_PATH = `${API_PREFIX}/devices/import`;

/**
 * A request body's limit: api.importLimitBytes for a bulk import, firmware.maxBytes for a firmware
 * upload (streamed: read by its route, not here), api.bodyLimitBytes otherwise. Only those exact
 * paths: another spelling gets the smallest limit.
 */
function bodyLimit(request: Request, config: Pick<ApiConfig, "api" | "firmware">): { bytes: number; setting: string; streamed?: boolean } {
  const { pathname } = new URL(request.url);
  if (request.method === "POST" && pathname === FIRMWARE_UPLOAD_PATH) return { bytes: config.firmware.maxBytes, setting: "firmware.maxBytes", streamed: true };
  return pathname === IMPORT_PATH
    ? { bytes: config.api.importLimitBytes, setting: "api.importLimitBytes" }
    : { bytes: config.api.bodyLimitBytes, setting: "api.bodyLimitBytes" };
}

/** 413 as the JSON error for a body that declares more than its limit, before any of it is read. */
function tooLarge(request: Request, limit: { bytes: number; setting: string }): Response | undefined {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (!(declared > limit.bytes)) return undefined;
  return bodyTooLarge(`the request body is ${declared} bytes; at most ${limit.bytes} (${limit.setting})`);
}

/**
 * A body sent without its length (chunked) is read here, up to api.bodyLimitBytes: past it the same
 * JSON 413 as for a declared one, and the rest is not read. The request goes on with the body read.
 */
async function readUndeclared(request: Request, limit: { bytes: number; setting: string }): Promise<Request | Response> {
  if (!request.body || request.headers.has("content-length")) return request;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit.bytes) {
      await reader.cancel();
      return bodyTooLarge(`the request body is more than ${limit.bytes} bytes (${limit.setting})`);
    }
    chunks.push(value);
  }
  return new Request(request, { body: Buffer.concat(chunks) });
}

const bodyTooLarge = (message: string) => Response.json({ error: { code: "body_too_large", message } }, { status: 413 });
