import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { resolveConfig, UmosConfigSchema } from "@umos/config";
import { inherited, parseDockerfile } from "./dockerfile";
import { configKeyOfEnv, defaultPort, read, readYaml, root, SERVICES } from "./repo";
import { API_PREFIX } from "../../apps/iot-api/src/schemas";

// `docker compose config` needs the compose plugin, which this machine lacks: the file is checked
// against the code it configures instead.
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
const compose = await readYaml<{ services: Record<string, ComposeService> }>("docker-compose.yml");
const services = compose.services;

/** Compose's variable substitution with nothing set: `${NAME:-default}` is its default. */
const interpolate = (value: string) => value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback = "") => fallback).replaceAll("$$", "$");
const environment = (service: ComposeService) =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([name, value]) => [name, interpolate(String(value))]));

describe("docker-compose.yml", () => {
  test("runs the whole platform: brokers, databases, observability and the six services", () => {
    const platform = ["rabbitmq", "vernemq", "postgres", "influxdb", "tempo", "prometheus", "grafana"];
    expect(Object.keys(services)).toEqual(expect.arrayContaining([...platform, ...SERVICES]));
  });

  test("builds each service from its own target of the Dockerfile", async () => {
    const stages = parseDockerfile(await read("deployments/docker/Dockerfile"));
    for (const name of SERVICES) {
      const build = services[name]!.build!;
      expect(existsSync(resolve(root, build.context, build.dockerfile))).toBe(true);
      expect(stages.map((s) => s.name)).toContain(build.target);
      expect(build.target).toBe(name);
    }
  });

  test("configures each service only with UMOS_* variables that name real config keys, and valid values", () => {
    for (const name of SERVICES) {
      const env = environment(services[name]!);
      for (const variable of Object.keys(env)) expect(`${variable} -> ${configKeyOfEnv(variable)}`).not.toEndWith("undefined");
      // A built service without --config reads the environment alone (shared/config loadConfig).
      expect(() => resolveConfig(UmosConfigSchema, { file: {}, fileName: "docker-compose.yml", env, prefix: "UMOS" })).not.toThrow();
    }
  });

  test("publishes services on their configured ports and points them at the compose services", () => {
    for (const name of SERVICES) {
      for (const mapping of services[name]!.ports ?? []) expect(mapping.split(":").at(-1)).toBe(String(defaultPort(name)));
      const env = environment(services[name]!);
      for (const url of [env.UMOS_BUS__URL, env.UMOS_MQTT__URL, env.UMOS_POSTGRES__URL, env.UMOS_INFLUX__URL]) {
        expect(Object.keys(services)).toContain(new URL(url!).hostname);
      }
    }
  });

  test("starts a service once what it depends on is healthy, and every such dependency has a health check", async () => {
    const stages = parseDockerfile(await read("deployments/docker/Dockerfile"));
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(`${name} -> ${dependency}: ${condition}`).toEndWith("service_healthy");
        const target = services[dependency]!.build?.target;
        const check = services[dependency]!.healthcheck ?? (target && inherited(stages, target, "HEALTHCHECK")[0]);
        expect(`${dependency}: ${check ? "health-checked" : "no health check"}`).toEndWith("health-checked");
      }
    }
    expect(Object.keys(services["iot-gateway"]!.depends_on ?? {})).toEqual(expect.arrayContaining(["rabbitmq", "vernemq", "iot-api"]));
  });

  test("mounts only files of this repository that exist", () => {
    const mounts = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .filter((v) => v.startsWith("./"));
    expect(mounts.length).toBeGreaterThan(0);
    for (const mount of mounts) expect(existsSync(resolve(root, mount.split(":")[0]!))).toBe(true);
  });

  test("VerneMQ runs deployments/vernemq/vernemq.conf, its webhooks on iot-api's route with iot-api's token", async () => {
    const conf = await read("deployments/vernemq/vernemq.conf");
    const env = environment(services.vernemq!);
    // The image writes DOCKER_VERNEMQ_A__B_C=v as `a.b_c = v` (vernemq/docker-vernemq bin/vernemq.sh).
    const fromCompose = Object.fromEntries(
      Object.entries(env)
        .filter(([name]) => name.startsWith("DOCKER_VERNEMQ_"))
        .map(([name, value]) => [name.slice("DOCKER_VERNEMQ_".length).toLowerCase().replaceAll("__", "."), value]),
    );
    const token = environment(services["iot-api"]!).UMOS_AUTH__WEBHOOK_TOKEN!;
    const fromFile = Object.fromEntries(
      conf
        .split("\n")
        .filter((line) => line.trim() && !line.startsWith("#"))
        .map((line) => line.split("=").map((part) => part.trim()))
        .map(([key, ...value]) => [key!, value.join("=").replace("WEBHOOK_TOKEN", token)])
        // Listeners are the image's (it binds the container's address); TLS is not part of the dev stack.
        .filter(([key]) => !key!.startsWith("listener.")),
    );
    expect(fromCompose).toEqual(fromFile);
    const route = await read("apps/iot-api/src/routes/vernemq.ts");
    for (const endpoint of Object.entries(fromCompose)
      .filter(([key]) => key.endsWith(".endpoint"))
      .map(([, url]) => new URL(url))) {
      expect(endpoint.host).toBe(`iot-api:${defaultPort("iot-api")}`);
      // The route is declared under the API's one prefix.
      expect(endpoint.pathname.startsWith(`${API_PREFIX}/`)).toBe(true);
      expect(route).toContain(`"${endpoint.pathname.slice(API_PREFIX.length)}"`);
      expect(endpoint.searchParams.get("token")).toBe(token);
    }
  });

  test("Prometheus scrapes each service by its compose name on its configured port", async () => {
    const prometheus = await readYaml<{ scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> }>(
      "deployments/prometheus/prometheus.yml",
    );
    const targets = prometheus.scrape_configs.find((c) => c.job_name === "umos")!.static_configs.flatMap((c) => c.targets);
    expect(targets.sort()).toEqual(SERVICES.map((name) => `${name}:${defaultPort(name)}`).sort());
  });
});
