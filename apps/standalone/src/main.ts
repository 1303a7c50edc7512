/**
 * `bun run start`: UMOS in one process with nothing else installed (docs/standalone.md).
 * Checks every port and claims the data directory before anything starts; SIGTERM or Ctrl-C
 * stops the services in reverse order within shutdownTimeoutMs.
 */
import { resolve } from "node:path";
import { ConfigError, isLoopback } from "@umos/config";
import { UmosError } from "@umos/core";
import { runService, serviceLogger } from "@umos/runtime";
import { lockDataDir } from "./data-dir";
import { checkPorts } from "./ports";
import { createStandalone } from "./standalone";
import { standaloneSettings, USAGE, type StandaloneSettings } from "./standalone-config";

const started = performance.now();
const parsed = await standaloneSettings(process.argv.slice(2), process.env).catch((err: unknown) => fail(err, 2));
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}
const { settings } = parsed;
const { config } = settings;
let lock: { release(): void };
try {
  checkPorts([
    { what: "REST API (--api-port, UMOS_API__PORT)", host: config.api.host, port: config.api.port },
    { what: "WebSocket (--ws-port, UMOS_WS__PORT)", host: config.ws.host, port: config.ws.port },
    { what: "MQTT broker (--mqtt-port)", ...settings.mqtt },
    { what: "embedded PostgreSQL (--postgres-port)", ...settings.postgres },
    { what: "iot-uplink health (--uplink-port, UMOS_UPLINK__PORT)", host: config.uplink.host, port: config.uplink.port },
    { what: "iot-downlink health (--downlink-port, UMOS_DOWNLINK__PORT)", host: config.downlink.host, port: config.downlink.port },
    { what: "iot-gateway health (--gateway-port, UMOS_GATEWAY__PORT)", host: config.gateway.host, port: config.gateway.port },
    { what: "iot-rules health (--rules-port, UMOS_RULES__PORT)", host: config.rules.host, port: config.rules.port },
  ]);
  lock = lockDataDir(settings.dataDir);
} catch (err) {
  fail(err, 1);
}

const log = serviceLogger("standalone", config.log);
const standalone = createStandalone(settings, log);
await runService(
  {
    async start() {
      await standalone.start();
      console.log(banner(settings, standalone.ports, (performance.now() - started) / 1000));
    },
    async stop() {
      await standalone.stop();
      lock.release();
    },
  },
  log,
  config.shutdownTimeoutMs,
);

function banner({ config, dataDir, mqtt, embeddedBus }: StandaloneSettings, ports: Readonly<Record<string, number>>, seconds: number): string {
  const http = config.api.tls ? "https" : "http";
  const ws = config.ws.tls ? "wss" : "ws";
  const api = ports["iot-api"] ?? config.api.port;
  const hosts = [...new Set([config.api.host, config.ws.host, mqtt.host])];
  const reach = hosts.every(isLoopback) ? "this machine only (--host opens it to the network)" : `${hosts.join(", ")}`;
  return [
    "",
    `UMOS standalone is up (${seconds.toFixed(1)} s); data in ${dataDir}${embeddedBus ? "" : `, bus ${new URL(config.bus.url).host}`}`,
    `  listening on ${reach}`,
    `  console      ${http}://localhost:${api}/`,
    `  REST API     ${http}://localhost:${api}/api/v1  (OpenAPI: /openapi)`,
    `  WebSocket    ${ws}://localhost:${ports["iot-ws"] ?? config.ws.port}/ws`,
    `  MQTT         mqtt://localhost:${mqtt.port}  (MQTT 3.1.1; devices log in with the credentials POST /api/v1/devices returns)`,
    `  admin token  bun run token -- --role admin${dataDir === resolve("data") ? "" : ` --data-dir ${dataDir}`}`,
    "",
  ].join("\n");
}

function fail(err: unknown, code: number): never {
  const known = err instanceof ConfigError || err instanceof UmosError;
  console.error(`standalone: ${known ? err.message : String(err)}`);
  process.exit(code);
}
