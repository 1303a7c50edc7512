import { DEV_JWT_SECRET, type UmosConfig } from "./umos-config";

/**
 * Rules that hold in production on top of the schema, for the service that loads the configuration
 * (all of them when none is named): no development secret where tokens are verified, no plain
 * external listener, no open broker webhook.
 */
export function productionProblems(config: Partial<UmosConfig>, service?: string): string[] {
  if (config.env !== "prod") return [];
  const runs = (name: string) => service === undefined || service === name;
  const problems: string[] = [];
  if ((runs("iot-api") || runs("iot-ws")) && config.auth) {
    if (config.auth.enabled === false) problems.push("config key auth.enabled: authentication cannot be off in production");
    if (config.auth.algorithm === "HS256" && (!config.auth.secret || config.auth.secret === DEV_JWT_SECRET)) {
      problems.push("config key auth.secret: set a secret of your own through UMOS_AUTH__SECRET (the development secret is refused in production)");
    }
    if (config.auth.algorithm !== "HS256" && !config.auth.jwksUrl) problems.push(`config key auth.jwksUrl: required for ${config.auth.algorithm}`);
  }
  if (runs("iot-api") && config.auth && !config.auth.webhookToken) {
    problems.push(
      "config key auth.webhookToken: required in production, so only your MQTT broker may ask iot-api about device logins (UMOS_AUTH__WEBHOOK_TOKEN)",
    );
  }
  if (!config.tlsOffloaded) {
    if (runs("iot-api") && config.api && !config.api.tls)
      problems.push("config key api.tls: TLS is required on the REST listener in production (or set tlsOffloaded behind a TLS proxy)");
    if (runs("iot-ws") && config.ws && !config.ws.tls)
      problems.push("config key ws.tls: TLS is required on the WebSocket listener in production (or set tlsOffloaded behind a TLS proxy)");
  }
  return problems;
}

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine reaches. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Rules for every mode, production or not: a listener that verifies tokens (iot-api, iot-ws) may
 * face the network only with a secret nobody else knows. The development secret is in the
 * repository, so anyone who reaches such a listener could mint an admin token; with authentication
 * off, anyone is an admin.
 */
export function listenerProblems(config: Partial<UmosConfig>, service?: string): string[] {
  const runs = (name: string) => service === undefined || service === name;
  if (!config.auth) return [];
  const weak =
    config.auth.enabled === false
      ? "authentication is off (auth.enabled: false)"
      : config.auth.algorithm === "HS256" && (!config.auth.secret || config.auth.secret === DEV_JWT_SECRET)
        ? "tokens are signed with the development secret, which is public"
        : undefined;
  if (!weak) return [];
  const listeners = [
    { key: "api.host", host: config.api?.host, service: "iot-api" },
    { key: "ws.host", host: config.ws?.host, service: "iot-ws" },
  ];
  return listeners
    .filter((l): l is typeof l & { host: string } => l.host !== undefined && runs(l.service) && !isLoopback(l.host))
    .map((l) => `config key ${l.key}: refusing to listen on ${l.host} while ${weak}; set UMOS_AUTH__SECRET to a secret of your own, or listen on 127.0.0.1`);
}
