import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import mqtt from "mqtt";
import postgres from "postgres";
import { ruleRepository } from "@umos/store";
import { eventually, startStack, type ServiceName, type TestStack } from "@umos/testkit";
import { familyOf, labelValues, merge, scrape, total, type Exposition } from "./exposition";
import { asPromQL, BUILT_IN_VARIABLES, DASHBOARDS, GRAFANA, loadDashboards, loadDataSources, promqlReferences, queriesOf, variablesIn } from "./grafana";
import { readYaml, root, SERVICES } from "./repo";

/**
 * Grafana, Prometheus and Tempo as docker-compose.yml runs them, checked without them (no Docker
 * here): the dashboards against Grafana's provisioning format and the provisioned datasources, and
 * every metric they query against what the six services really expose once traffic flowed.
 */
interface ComposeService {
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}
const compose = await readYaml<{ services: Record<string, ComposeService> }>("docker-compose.yml");
const dashboards = await loadDashboards();
const dataSources = await loadDataSources();
const queries = dashboards.flatMap(({ file, dashboard }) => queriesOf(file, dashboard));
const promQueries = queries.filter((q) => q.datasource?.uid && dataSources.get(q.datasource.uid)?.type === "prometheus");

/** The container path Compose mounts a repository folder at, in a service. */
const mountOf = (service: string, folder: string) => compose.services[service]!.volumes?.map((v) => v.split(":")).find(([from]) => from === `./${folder}`)?.[1];
const hostPort = (url: string) => `${new URL(url).hostname}:${new URL(url).port}`;

describe("Grafana provisioning (deployments/grafana)", () => {
  test("the dashboard provider reads the folder Compose mounts deployments/grafana/dashboards at", async () => {
    expect(mountOf("grafana", `${GRAFANA}/provisioning`)).toBe("/etc/grafana/provisioning");
    const provisioning = await readYaml<{ apiVersion: number; providers: Array<{ name: string; type: string; options: { path: string } }> }>(
      `${GRAFANA}/provisioning/dashboards/umos.yaml`,
    );
    expect(provisioning.apiVersion).toBe(1);
    expect(provisioning.providers.map((p) => [p.type, p.options.path])).toEqual([["file", mountOf("grafana", DASHBOARDS)!]]);
  });

  test("an overview dashboard and one per service, each with a uid and a title of its own", () => {
    expect(dashboards.map((d) => d.file)).toEqual(expect.arrayContaining(["overview.json", ...SERVICES.map((s) => `${s}.json`)]));
    const uids = dashboards.map((d) => d.dashboard.uid);
    const titles = dashboards.map((d) => d.dashboard.title);
    // Grafana refuses uids past 40 characters or outside these; a repeated uid or title makes provisioning skip a file.
    for (const uid of uids) expect(uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    for (const title of titles) expect(title).toBeTruthy();
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
    for (const { file, dashboard } of dashboards) {
      // A provisioned dashboard is matched by uid; a numeric id from another Grafana would clash.
      expect(`${file}: id ${dashboard.id ?? "none"}`).toBe(`${file}: id none`);
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    }
  });

  test("every panel has a unique id, a type, a place on the 24-column grid no other panel takes, and queries", () => {
    for (const { file, dashboard } of dashboards) {
      const panels = dashboard.panels ?? [];
      expect(panels.length).toBeGreaterThan(0);
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const taken = new Set<string>();
      for (const panel of panels) {
        const where = `${file} panel ${panel.id} "${panel.title}"`;
        expect(Number.isInteger(panel.id)).toBe(true);
        expect(panel.type).toBeTruthy();
        const { x, y, w, h } = panel.gridPos!;
        expect(`${where}: ${x}+${w} ${x >= 0 && w > 0 && h > 0 && x + w <= 24 ? "fits" : "is off the grid"}`).toEndWith("fits");
        for (let col = x; col < x + w; col++) {
          for (let row = y; row < y + h; row++) {
            expect(`${where} at ${col},${row}: ${taken.has(`${col},${row}`) ? "overlaps" : "free"}`).toEndWith("free");
            taken.add(`${col},${row}`);
          }
        }
        if (panel.type === "row") continue;
        expect(`${where}: ${panel.targets?.length ?? 0} targets`).not.toEndWith(": 0 targets");
        const refIds = panel.targets!.map((t) => t.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
      }
    }
  });

  test("every query runs on a provisioned datasource and uses only variables the dashboard defines", () => {
    expect(queries.length).toBeGreaterThan(50);
    for (const query of queries) {
      const source = dataSources.get(query.datasource?.uid ?? "");
      expect(`${query.where}: ${query.datasource?.uid} ${source ? "provisioned" : "not provisioned"}`).toEndWith(" provisioned");
      if (query.datasource?.type) expect(`${query.where}: ${query.datasource.type}`).toBe(`${query.where}: ${source!.type}`);
    }
    for (const { file, dashboard } of dashboards) {
      const defined = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
      for (const query of queriesOf(file, dashboard)) {
        for (const name of variablesIn(query.text))
          expect(`${query.where}: $${name} ${defined.has(name) || BUILT_IN_VARIABLES.has(name) ? "defined" : "undefined"}`).toEndWith(" defined");
      }
    }
  });

  test("every Prometheus query parses with Prometheus' own parser", async () => {
    expect(promQueries.length).toBeGreaterThan(40);
    // promtool parses each rule's expression the way the server does; a recording rule per query.
    const rules = promQueries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q.text), labels: { where: q.where } }));
    const file = join(await mkdtemp(join(tmpdir(), "umos-promql-")), "rules.json");
    await Bun.write(file, JSON.stringify({ groups: [{ name: "dashboards", rules }] }));
    const check = Bun.spawnSync(["promtool", "check", "rules", file]);
    await rm(dirname(file), { recursive: true, force: true });
    expect(`${check.stdout}${check.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe("Prometheus and Tempo for Grafana and the services", () => {
  test("the Prometheus and Tempo datasources reach the Compose services on the ports they serve", async () => {
    const prometheus = [...dataSources.values()].find((d) => d.type === "prometheus")!;
    const tempoSource = [...dataSources.values()].find((d) => d.type === "tempo")!;
    const tempo = await readYaml<{ server: { http_listen_port: number } }>("deployments/tempo/tempo.yaml");
    // Prometheus listens on 9090 in its image; Compose publishes it on the same port.
    expect(hostPort(prometheus.url)).toBe("prometheus:9090");
    expect(compose.services.prometheus!.ports).toContain("9090:9090");
    expect(mountOf("prometheus", "deployments/prometheus/prometheus.yml")).toBe("/etc/prometheus/prometheus.yml");
    expect(hostPort(tempoSource.url)).toBe(`tempo:${tempo.server.http_listen_port}`);
  });

  test("prometheus.yml is a configuration Prometheus accepts", () => {
    const check = Bun.spawnSync(["promtool", "check", "config", "--syntax-only", resolve(root, "deployments/prometheus/prometheus.yml")]);
    expect(`${check.stdout}${check.stderr}`).toContain("SUCCESS");
    expect(check.exitCode).toBe(0);
  });

  test("Grafana's $__rate_interval knows Prometheus' scrape interval", async () => {
    const prometheus = await readYaml<{ global: { scrape_interval: string } }>("deployments/prometheus/prometheus.yml");
    const source = [...dataSources.values()].find((d) => d.type === "prometheus")!;
    // $__rate_interval is max(4 x this, $__interval + this): a rate over fewer than two scrapes is empty.
    expect(source.jsonData?.timeInterval).toBe(prometheus.global.scrape_interval);
  });

  test("the services export traces to Tempo's OTLP/HTTP receiver", async () => {
    const tempo = await readYaml<{ distributor: { receivers: { otlp: { protocols: { http: { endpoint: string } } } } } }>("deployments/tempo/tempo.yaml");
    const receiverPort = tempo.distributor.receivers.otlp.protocols.http.endpoint.split(":").at(-1);
    for (const service of SERVICES) {
      const url = new URL(compose.services[service]!.environment!.UMOS_TRACING__OTLP_URL!);
      expect(`${service} -> ${url.host}${url.pathname}`).toBe(`${service} -> tempo:${receiverPort}/v1/traces`);
    }
    expect(compose.services.tempo!.ports).toContain(`${receiverPort}:${receiverPort}`);
  });

  test("production samples a tenth of new traces", async () => {
    const prod = await readYaml<{ tracing?: { sampleRatio?: number } }>("configs/config.prod.yaml");
    expect(prod.tracing?.sampleRatio).toBe(0.1);
  });
});

/** gateway.maxPayloadBytes in the live test: one frame past it is dead-lettered at the edge. */
const MAX_PAYLOAD_BYTES = 1024;

/**
 * The six services on a vhost, a database and a Mosquitto of their own, with the gateway's edge
 * spool on (its metrics exist only then); a generic device reports (raising an alarm: a rule watches
 * its temperature), sends a malformed and an oversized frame, and answers a command while a dashboard watches.
 */
describe("the metrics the dashboards query, on running services", () => {
  const PORTS = {
    "iot-api": "api",
    "iot-ws": "ws",
    "iot-uplink": "uplink",
    "iot-downlink": "downlink",
    "iot-gateway": "gateway",
    "iot-rules": "rules",
  } as const satisfies Record<string, ServiceName>;
  let stack: TestStack;
  let spoolDir: string;
  let before: Record<string, Exposition>;
  let after: Record<string, Exposition>;
  const scrapeAll = async () =>
    Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await scrape(stack.platform.ports[PORTS[s]])] as const))) as Record<string, Exposition>;

  beforeAll(async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "umos-dashboards-"));
    stack = await startStack({
      UMOS_GATEWAY__SPOOL__ENABLED: "true",
      UMOS_GATEWAY__SPOOL__PATH: join(spoolDir, "spool.db"),
      UMOS_GATEWAY__MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
    });
    before = await scrapeAll();
    await driveTraffic(stack);
    // iot_dead_letters follows the archive table (iot-uplink) a moment after a dead letter lands in it;
    // the alarm is raised once iot-rules has taken the report from its own queue.
    after = await eventually(
      async () => {
        const scraped = await scrapeAll();
        const counted = (service: string, name: string) => (scraped[service]!.get(name)?.samples.length ?? 0) > 0;
        return counted("iot-uplink", "iot_dead_letters") && counted("iot-rules", "iot_alarm_changes_total") ? scraped : undefined;
      },
      20_000,
      "the malformed frame counted in iot_dead_letters and the alarm in iot_alarm_changes_total",
    );
  }, 60_000);

  afterAll(async () => {
    await stack?.dispose();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  });

  test("each service's /metrics exposes the seed's metrics, and their values move when traffic flows", () => {
    // iot_devices_active counts devices online in the registry; iot-gateway and iot-ws hold none, and
    // report the devices whose traffic they saw within the presence window as iot_devices_seen.
    const devices = (service: string) => (service === "iot-gateway" || service === "iot-ws" ? "iot_devices_seen" : "iot_devices_active");
    for (const service of SERVICES) {
      const expected = ["iot_http_requests_total", "iot_http_request_duration_seconds", "iot_rabbitmq_messages_total", devices(service)];
      expect(`${service}: ${expected.filter((name) => after[service]!.has(name)).join(" ")}`).toBe(`${service}: ${expected.join(" ")}`);
      for (const family of after[service]!.values()) expect(family.samples.every((s) => s.labels.service === service)).toBe(true);
      // Every service publishes or consumes on the way of a report and a command.
      const moved = total(after[service]!, "iot_rabbitmq_messages_total") - total(before[service]!, "iot_rabbitmq_messages_total");
      expect(`${service}: iot_rabbitmq_messages_total +${moved}`).not.toEndWith("+0");
      expect(`${service}: ${devices(service)} ${total(after[service]!, devices(service))}`).not.toEndWith(" 0");
    }
    const api = { before: before["iot-api"]!, after: after["iot-api"]! };
    const commands = { method: "POST", route: "/api/v1/devices/:id/commands", status: "202" };
    expect(total(api.after, "iot_http_requests_total", commands) - total(api.before, "iot_http_requests_total", commands)).toBe(1);
    expect(total(api.after, "iot_http_request_duration_seconds_count", commands)).toBe(1);
    const consumed = (service: string, stage: string) => total(after[service]!, "iot_rabbitmq_messages_total", { direction: "consume", stage, outcome: "ok" });
    expect(consumed("iot-uplink", "device")).toBeGreaterThanOrEqual(3);
    expect(consumed("iot-downlink", "service")).toBeGreaterThanOrEqual(2);
    expect(consumed("iot-gateway", "gateway")).toBeGreaterThanOrEqual(1);
    expect(consumed("iot-ws", "event")).toBeGreaterThanOrEqual(1);
    expect(consumed("iot-rules", "event")).toBeGreaterThanOrEqual(1);
    expect(total(after["iot-rules"]!, "iot_alarm_changes_total", { change: "raised" })).toBe(1);
  });

  test("every metric a dashboard queries exists, with the labels and label values it selects", () => {
    const exposed = merge(Object.values(after));
    const problems: string[] = [];
    for (const { where, text } of promQueries) {
      const refs = promqlReferences(text);
      const families = refs.metrics.map((name) => ({ name, family: exposed.get(familyOf(exposed, name) ?? "") }));
      for (const { name, family } of families) if (!family) problems.push(`${where}: ${name} is not exposed by any service`);
      if (families.some(({ family }) => !family)) continue;
      // Prometheus adds job and instance to every scraped series; histogram_quantile groups by le.
      const labels = new Set([
        "job",
        "instance",
        ...families.flatMap(({ family }) => [...labelValues(family!).keys(), ...(family!.type === "histogram" ? ["le"] : [])]),
      ]);
      for (const label of refs.grouping)
        if (!labels.has(label)) problems.push(`${where}: grouped by ${label}, which no series of ${refs.metrics.join(", ")} has`);
      for (const m of refs.matchers) {
        const values = labelValues(exposed.get(familyOf(exposed, m.metric)!)!).get(m.label);
        if (!labels.has(m.label)) problems.push(`${where}: ${m.metric} has no label ${m.label}`);
        else if (m.op === "=" && !m.value.includes("$") && values && !values.has(m.value))
          problems.push(`${where}: no ${m.metric} series has ${m.label}="${m.value}" (seen: ${[...values].join(", ")})`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/** A generic device registered over REST: a birth message, a report that raises an alarm, a malformed frame, an oversized one, a command it answers. */
async function driveTraffic(stack: TestStack): Promise<void> {
  const id = "dash-1";
  // Before the device exists, so iot-rules finds the rule the first time it looks the device up.
  const sql = postgres(stack.database.url, { max: 1, onnotice: () => {} });
  try {
    await ruleRepository(sql).create("dash-hot", {
      name: "too warm",
      deviceIds: [id],
      definition: { levels: [{ severity: "major", when: { property: "temperature", op: "gt", value: 20 } }] },
      createdBy: "dashboards test",
    });
  } finally {
    await sql.end();
  }
  expect((await stack.api.post("/api/v1/devices", { id, vendor: "generic" })).status).toBe(201);
  const app = await stack.dashboard({ devices: [id] });
  const device = await mqtt.connectAsync(stack.broker.url, { clientId: id, protocolVersion: 5 });
  try {
    device.on("message", (_topic, payload) => {
      const call = JSON.parse(payload.toString()) as { correlationId: string };
      void device.publishAsync(`generic/${id}/service/reply`, JSON.stringify({ correlationId: call.correlationId, code: 0, data: {} }), { qos: 1 });
    });
    await device.subscribeAsync(`generic/${id}/service/call`, { qos: 1 });
    await device.publishAsync(`generic/${id}/status`, JSON.stringify({ state: "online" }), { qos: 1 });
    await device.publishAsync(`generic/${id}/property/report`, JSON.stringify({ id: "r-1", data: { temperature: 21.5 } }), { qos: 1 });
    await device.publishAsync(`generic/${id}/property/report`, "temperature=21.5", { qos: 1 });
    await device.publishAsync(`generic/${id}/property/report`, JSON.stringify({ data: { blob: "x".repeat(MAX_PAYLOAD_BYTES) } }), { qos: 1 });
    await eventually(async () => (await stack.api.get(`/api/v1/devices/${id}`)).body.online, 10_000, "device online");
    const command = await stack.api.post(`/api/v1/devices/${id}/commands`, { service: "ping", params: {} });
    expect(command.status).toBe(202);
    await eventually(async () => (await stack.api.get(`/api/v1/commands/${command.body.id}`)).body.status === "acked", 10_000, "command acked");
    await eventually(() => app.messages().some((m) => m.kind === "command.status" && m.data.status === "acked"), 10_000, "acked pushed to the dashboard");
  } finally {
    app.socket.close();
    await device.endAsync();
  }
}
