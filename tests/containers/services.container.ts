import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import amqplib from "amqplib";
import mqtt from "mqtt";
import postgres from "postgres";
import { QUEUES } from "@umos/contracts";
import {
  createDatabase,
  createVhost,
  eventually,
  freePort,
  jsonClient,
  startMosquitto,
  startTcpProxy,
  startVictoriaMetrics,
  testToken,
  uid,
  wsDashboard,
  type TestDatabase,
  type TestMosquitto,
  type TestVhost,
  type TestVictoriaMetrics,
} from "@umos/testkit";
import { expectNoLoss } from "../faults/expectations";
import { runFaultStream } from "../faults/stream";
import { composeEnvironment } from "./compose";
import { buildImages, imageTag, root, type BuiltImage } from "./images";
import { PODMAN_ENV, podman } from "./podman";
import { runContainer, type Container } from "./run";

/**
 * The real images of deployments/docker/Dockerfile, built here with podman on stand-in bases, run as
 * containers on the host network against this machine's RabbitMQ and PostgreSQL and a Mosquitto of
 * the test's own, configured as docker-compose.yml configures them, and driven as a device and an
 * app would. docs/containers.md.
 */
// In start order: iot-rules declares its queue before the gateway lets device traffic in; stopped in reverse.
const SERVICES = ["iot-api", "iot-ws", "iot-uplink", "iot-downlink", "iot-rules", "iot-gateway"] as const;
type Service = (typeof SERVICES)[number];
const SECRET = `container-test-secret-${crypto.randomUUID()}`;
const MiB = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

let images: BuiltImage[] = [];
let vhost: TestVhost;
let database: TestDatabase;
let broker: TestMosquitto;
let victoria: TestVictoriaMetrics;
let collector: ReturnType<typeof Bun.serve>;
let tracePosts = 0;
let sql: postgres.Sql;
const ports = {} as Record<Service, number>;
const containers = {} as Record<Service, Container>;
const extra: Container[] = [];
const volumes: string[] = [];

beforeAll(async () => {
  [vhost, database, broker, victoria] = await Promise.all([createVhost(), createDatabase(), startMosquitto(), startVictoriaMetrics()]);
  // An OTLP/HTTP receiver in Tempo's place: the services' spans arrive here.
  collector = Bun.serve({
    port: 0,
    // Also for containers on a bridge network (podman-compose).
    hostname: "0.0.0.0",
    fetch(req) {
      if (new URL(req.url).pathname === "/v1/traces" && req.method === "POST") tracePosts++;
      return new Response(null, { status: 200 });
    },
  });
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  for (const service of SERVICES) ports[service] = await freePort();
}, 60_000);

afterAll(async () => {
  await Promise.all([...Object.values(containers), ...extra].map((c) => c.remove()));
  for (const volume of volumes) await podman(["volume", "rm", "-f", volume], { allowFailure: true });
  await sql?.end();
  collector?.stop(true);
  await Promise.all([vhost?.dispose(), database?.dispose(), broker?.stop(), victoria?.dispose()]);
}, 60_000);

/** docker-compose.yml's environment for the services, its hosts replaced by this machine's. */
async function environment(service: Service): Promise<Record<string, string>> {
  const portVar = `UMOS_${service.slice("iot-".length).toUpperCase()}__PORT`;
  return {
    ...(await composeEnvironment({
      UMOS_BUS__URL: vhost.url,
      UMOS_MQTT__URL: broker.url,
      UMOS_POSTGRES__URL: database.url,
      UMOS_AUTH__SECRET: SECRET,
      UMOS_INFLUX__URL: victoria.url,
      UMOS_TRACING__OTLP_URL: `http://127.0.0.1:${collector.port}/v1/traces`,
    })),
    [portVar]: String(ports[service]),
    HEALTHCHECK_PORT: String(ports[service]),
  };
}

const api = async () => jsonClient(`http://127.0.0.1:${ports["iot-api"]}`, await testToken("admin", { secret: SECRET }));

describe("the images of deployments/docker/Dockerfile", () => {
  test("every target builds unchanged on the stand-in bases", async () => {
    const built = await buildImages("test");
    images = built.images;
    console.log(`containers | stand-in base images | ${(built.standInsMs / 1000).toFixed(1)} s`);
    for (const image of images) console.log(`containers | image ${image.tag} | ${MiB(image.bytes)} MiB | built in ${(image.buildMs / 1000).toFixed(1)} s`);
    expect(images.map((i) => i.target).sort()).toEqual([...SERVICES, "iot-gateway-edge"].sort());
    for (const image of images) expect(image.bytes).toBeGreaterThan(0);
  }, 900_000);
});

describe("the six services as containers", () => {
  test("start on the host network as the unprivileged user, on a read-only root filesystem, and report healthy", async () => {
    for (const service of SERVICES) {
      containers[service] = await runContainer(service, {
        image: imageTag(service, "test"),
        env: await environment(service),
        port: ports[service],
        readOnly: true,
      });
    }
    for (const service of SERVICES) {
      const container = containers[service];
      console.log(`containers | ${service} | ready ${(container.startMs / 1000).toFixed(2)} s after podman run`);
      expect(await container.uid()).toBe(1000);
      expect(await container.healthcheck(), `${service}'s HEALTHCHECK`).toEqual({ code: 0, status: "healthy" });
    }
  }, 180_000);

  test("a device's report reaches the message log, a WebSocket client and the time series; spans reach the collector", async () => {
    const rest = await api();
    expect((await rest.post("/api/v1/devices", { id: "c-thermo", vendor: "generic" })).status).toBe(201);
    const app = await wsDashboard(`ws://127.0.0.1:${ports["iot-ws"]}/ws`, { devices: ["c-thermo"] }, await testToken("viewer", { secret: SECRET }));
    const device = await mqtt.connectAsync(broker.url, { clientId: "c-thermo", protocolVersion: 5, reconnectPeriod: 0 });
    const ts = Date.now();
    await device.publishAsync("generic/c-thermo/property/report", JSON.stringify({ id: "c-r1", ts, data: { temperature: 21.5 } }), { qos: 1 });

    const [pushed] = await eventually(() => (app.messages().length > 0 ? app.messages() : undefined), 15_000, "pushed over the WebSocket");
    expect(pushed).toMatchObject({ deviceId: "c-thermo", kind: "property.report", data: { temperature: 21.5 } });
    const log = await eventually(
      async () => ((await rest.get("/api/v1/devices/c-thermo/messages")).body.items?.length === 1 ? true : undefined),
      15_000,
      "in the message log",
    );
    expect(log).toBe(true);
    const series = await eventually(
      async () => {
        const found = await victoria.samples('{__name__="device_property_value",device="c-thermo",property="temperature"}');
        return found.length > 0 ? found : undefined;
      },
      30_000,
      "the temperature in the time series",
    );
    expect(series[0]!.values).toContain(21.5);
    await eventually(() => tracePosts > 0, 30_000, "spans exported over OTLP");
    app.socket.close();
    await device.endAsync();
  }, 90_000);

  test("a REST command reaches the device over MQTT and the device's reply acks it", async () => {
    const rest = await api();
    await rest.post("/api/v1/devices", { id: "c-valve", vendor: "generic" });
    const device = await mqtt.connectAsync(broker.url, { clientId: "c-valve", protocolVersion: 5, reconnectPeriod: 0 });
    device.on("message", (topic, payload) => {
      if (topic !== "generic/c-valve/service/call") return;
      const call = JSON.parse(payload.toString()) as { correlationId: string };
      void device.publishAsync("generic/c-valve/service/reply", JSON.stringify({ correlationId: call.correlationId, code: 0, data: { position: 40 } }), {
        qos: 1,
      });
    });
    await device.subscribeAsync("generic/c-valve/service/call", { qos: 1 });
    await device.publishAsync("generic/c-valve/status", JSON.stringify({ state: "online" }), { qos: 1 });
    await eventually(async () => (await rest.get("/api/v1/devices/c-valve")).body.online === true, 15_000, "device online");
    const res = await rest.post("/api/v1/devices/c-valve/commands", { service: "open", params: { percent: 40 } });
    expect(res.status).toBe(202);
    const done = await eventually(
      async () => {
        const command = (await rest.get(`/api/v1/commands/${res.body.id}`)).body;
        return command.status === "acked" ? command : undefined;
      },
      15_000,
      "command acked",
    );
    expect(done.output).toEqual({ position: 40 });
    await device.endAsync();
  }, 60_000);

  test("iot-uplink's container killed mid-stream and started again: no report lost or stored twice, every command acked", async () => {
    const rest = await api();
    const report = await runFaultStream(
      {
        api: rest,
        sql,
        mqttUrl: broker.url,
        wsUrl: `ws://127.0.0.1:${ports["iot-ws"]}/ws`,
        token: await testToken("admin", { secret: SECRET }),
        rabbitmqUrl: vhost.url,
      },
      "iot-uplink container SIGKILL",
      async () => {
        await containers["iot-uplink"].kill();
        await containers["iot-uplink"].start();
      },
      { tag: "container-kill" },
    );
    expectNoLoss(report);
  }, 180_000);

  test("podman stop: each service drains and exits 0 within its shutdown budget (shutdownTimeoutMs, 10 s)", async () => {
    // The gateway first, so nothing new comes in while the others drain.
    for (const service of [...SERVICES].reverse()) {
      const stopped = await containers[service].stop(30);
      console.log(`containers | ${service} | podman stop took ${(stopped.ms / 1000).toFixed(2)} s, exit code ${stopped.exitCode}`);
      expect(stopped.exitCode, `${service}'s exit code`).toBe(0);
      expect(stopped.ms).toBeLessThan(10_000);
    }
  }, 120_000);
});

describe("the edge gateway image", () => {
  test("relays device -> RabbitMQ from distroless as nonroot, read-only, its spool on a volume", async () => {
    const [edgeVhost, edgeBroker, port] = await Promise.all([createVhost(), startMosquitto(), freePort()]);
    const volume = `umos-test-spool-${uid()}`;
    volumes.push(volume);
    await podman(["volume", "create", volume]);
    const conn = await amqplib.connect(edgeVhost.url);
    try {
      const gateway = await runContainer("iot-gateway-edge", {
        image: imageTag("iot-gateway-edge", "test"),
        env: {
          ...(await composeEnvironment({
            UMOS_BUS__URL: edgeVhost.url,
            UMOS_MQTT__URL: edgeBroker.url,
            UMOS_AUTH__SECRET: SECRET,
            UMOS_TRACING__OTLP_URL: `http://127.0.0.1:${collector.port}/v1/traces`,
          })),
          UMOS_GATEWAY__PORT: String(port),
          UMOS_GATEWAY__SPOOL__ENABLED: "true",
        },
        port,
        readOnly: true,
        volumes: [`${volume}:/var/lib/umos`],
      });
      extra.push(gateway);
      console.log(`containers | iot-gateway-edge | ready ${(gateway.startMs / 1000).toFixed(2)} s after podman run`);
      expect(await gateway.uid()).toBe(65532);
      const device = await mqtt.connectAsync(edgeBroker.url, { clientId: "edge-dev", protocolVersion: 5, reconnectPeriod: 0 });
      await device.publishAsync("generic/edge-dev/property/report", JSON.stringify({ id: "e-1", data: { t: 1 } }), { qos: 1 });
      await device.endAsync();
      const ch = await conn.createChannel();
      const message = await eventually(async () => (await ch.get(QUEUES.uplink, { noAck: true })) || undefined, 15_000, "the frame in iot-uplink-queue");
      expect(JSON.parse(message.content.toString())).toEqual({ id: "e-1", data: { t: 1 } });
      // The spool's SQLite file is in the volume, written by the unprivileged user.
      const files = await podman(["run", "--rm", "-v", `${volume}:/v`, "--entrypoint", "/bin/ls", imageTag("iot-api", "test"), "-ln", "/v"]);
      expect(files.stdout).toMatch(/65532\s+65532 .*iot-gateway-spool\.db/);
      const stopped = await gateway.stop(30);
      expect(stopped.exitCode).toBe(0);
    } finally {
      await conn.close();
      await Promise.all([edgeVhost.dispose(), edgeBroker.stop()]);
    }
  }, 120_000);
});

describe("docker-compose.host.yml under podman-compose", () => {
  test("runs the six services on a container network against this host's brokers and database: healthy, a report stored and pushed, each stopping by itself, nothing lost across a recreate", async () => {
    for (const service of SERVICES) await podman(["tag", imageTag(service, "test"), imageTag(service, "dev")]);
    // The containers reach the host as host.containers.internal, from the container network: the
    // host's RabbitMQ (guest), PostgreSQL (trust) and Mosquitto admit loopback peers, so they are
    // reached through relays on every interface that connect from loopback.
    const relay = (port: number) => startTcpProxy(port, { listenHost: "0.0.0.0" });
    // A broker of its own: the stopped gateway containers' sessions still hold their share of the
    // gateways' shared subscriptions on the first one, and Mosquitto queues a share for them.
    const composeBroker = await startMosquitto();
    const busUrl = new URL(vhost.url);
    const pgUrl = new URL(database.url);
    const [bus, pg, mq, vm] = await Promise.all([
      relay(Number(busUrl.port || 5672)),
      relay(Number(pgUrl.port || 5432)),
      relay(composeBroker.port),
      relay(Number(new URL(victoria.url).port)),
    ]);
    const at = (url: URL, port: number) => Object.assign(new URL(url), { hostname: "host.containers.internal", port: String(port) }).toString();
    const [apiPort, wsPort] = [await freePort(), await freePort()];
    const project = `umos-test-${uid()}`;
    const env = {
      ...PODMAN_ENV,
      AUTH_SECRET: SECRET,
      API_PORT: String(apiPort),
      WS_PORT: String(wsPort),
      HOST_BUS_URL: at(busUrl, bus.port),
      HOST_POSTGRES_URL: at(pgUrl, pg.port),
      HOST_MQTT_URL: `mqtt://host.containers.internal:${mq.port}`,
      HOST_INFLUX_URL: `http://host.containers.internal:${vm.port}`,
      HOST_OTLP_URL: `http://host.containers.internal:${collector.port}/v1/traces`,
    };
    const compose = async (...args: string[]) => {
      const proc = Bun.spawn(["podman-compose", "-p", project, "-f", "docker-compose.host.yml", ...args], { cwd: root, env, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) throw new Error(`podman-compose ${args.join(" ")} failed (${code}): ${(out + err).slice(-3000)}`);
      return out;
    };
    const container = (service: Service) => `${project}_${service}_1`;
    try {
      const started = performance.now();
      await compose("up", "-d", "--no-build");
      for (const service of SERVICES) {
        await eventually(
          async () => (await podman(["healthcheck", "run", container(service)], { allowFailure: true })).code === 0,
          60_000,
          `${service} healthy`,
        );
      }
      console.log(`containers | podman-compose up -> all six healthy | ${((performance.now() - started) / 1000).toFixed(1)} s`);

      const rest = jsonClient(`http://127.0.0.1:${apiPort}`, await testToken("admin", { secret: SECRET }));
      await eventually(async () => (await rest.get("/api/v1/devices")).status === 200, 30_000, "iot-api through its published port");
      expect((await rest.post("/api/v1/devices", { id: "compose-dev", vendor: "generic" })).status).toBe(201);
      const app = await wsDashboard(`ws://127.0.0.1:${wsPort}/ws`, { devices: ["compose-dev"] }, await testToken("viewer", { secret: SECRET }));
      const device = await mqtt.connectAsync(composeBroker.url, { clientId: "compose-dev", protocolVersion: 5, reconnectPeriod: 0 });
      await device.publishAsync("generic/compose-dev/property/report", JSON.stringify({ id: "cc-1", data: { humidity: 40 } }), { qos: 1 });
      await device.endAsync();
      await eventually(() => app.messages().some((m) => m.data?.humidity === 40), 20_000, "pushed over the WebSocket");
      await eventually(async () => (await rest.get("/api/v1/devices/compose-dev/messages")).body.items?.length === 1, 20_000, "in the message log");
      app.socket.close();

      // Each exits by itself on SIGTERM, before podman-compose's SIGKILL (137). 0 is a full drain; 1
      // is the service's own budget (10 s) running out. On this sandbox's container network a
      // connection stalls for seconds while a neighbour container's network is torn down, so a
      // service stopped right after another may wait on the broker past its budget: seen with
      // podman-compose, never with the host network (the strict exit-0 test above). docs/containers.md.
      await compose("stop");
      for (const service of SERVICES) {
        const code = Number((await podman(["inspect", "--format", "{{.State.ExitCode}}", container(service)])).stdout.trim());
        if (code !== 0)
          console.log(
            `containers | podman-compose stop | ${service} exited ${code}: ${(await podman(["logs", "--tail", "1", container(service)])).stderr.trim()}`,
          );
        expect([0, 1], `${service}'s exit code`).toContain(code);
      }
      // Recreated (a new image would do the same): the gateway resumes its MQTT session, so a report
      // sent while no container ran is delivered then.
      await compose("down");
      // What the removed containers had open through the relays ends here. This sandbox's container
      // network at times loses the last packets of a container being torn down (see the stop above),
      // which would leave, say, the old iot-uplink's AMQP connection open at its relay: RabbitMQ would
      // hand the next report to that consumer and wait for its heartbeat (60 s) to give it back.
      console.log(
        `containers | after podman-compose down | still open at the relays: RabbitMQ ${bus.connections}, PostgreSQL ${pg.connections}, MQTT ${mq.connections}`,
      );
      for (const r of [bus, pg, mq, vm]) {
        r.cut();
        r.restore();
      }
      const late = await mqtt.connectAsync(composeBroker.url, { clientId: "compose-dev", protocolVersion: 5, reconnectPeriod: 0 });
      await late.publishAsync("generic/compose-dev/property/report", JSON.stringify({ id: "cc-2", data: { humidity: 41 } }), { qos: 1 });
      await late.endAsync();
      await compose("up", "-d", "--no-build");
      await eventually(
        async () => (await rest.get("/api/v1/devices/compose-dev/messages")).body?.items?.length === 2,
        60_000,
        "the report sent while down, in the message log",
      );
    } catch (err) {
      console.error("message log:", JSON.stringify(await sql`select id, data from message_log where device_id = 'compose-dev'`));
      console.error("dead letters:", JSON.stringify(await sql`select code, reason from dead_letters where device_id = 'compose-dev'`));
      for (const service of SERVICES) {
        const logs = await podman(["logs", container(service)], { allowFailure: true });
        console.error(`--- ${service}\n${logs.stdout}${logs.stderr}`);
      }
      throw err;
    } finally {
      await compose("down").catch(() => {});
      // podman-compose 1.0.3's `down` removes the containers but not the project's network.
      await podman(["network", "rm", "-f", `${project}_default`], { allowFailure: true });
      await Promise.all([...[bus, pg, mq, vm].map((r) => r.stop()), composeBroker.stop()]);
    }
  }, 300_000);
});
