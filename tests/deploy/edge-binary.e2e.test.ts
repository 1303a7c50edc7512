import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqplib from "amqplib";
import mqtt from "mqtt";
import { EXCHANGE, HEADERS, QUEUES } from "@umos/contracts";
import { createVhost, eventually, freePort, startMosquitto, testEnv } from "@umos/testkit";
import { root } from "./repo";

// The gateway as an edge host runs it: one file from `bun run build`, started in an empty directory
// with nothing but environment variables; no repository, no configs/, no node_modules.
let dist: string;
let emptyDir: string;
let binary: string;

/** `bun run build` for one service and target; a failed build fails the tests that need it. */
async function build(target: string): Promise<string> {
  const proc = Bun.spawn(["bun", "run", "build", "--service", "iot-gateway", "--target", target, "--outdir", dist], {
    cwd: root,
    stdout: "ignore",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`bun run build --target ${target} failed (${code}): ${stderr}`);
  return join(dist, `iot-gateway-${target.replace(/^bun-/, "")}`);
}

beforeAll(async () => {
  [dist, emptyDir] = await Promise.all([mkdtemp(join(tmpdir(), "umos-dist-")), mkdtemp(join(tmpdir(), "umos-edge-"))]);
  binary = await build("bun-linux-x64");
}, 60_000);
afterAll(async () => {
  await Promise.all([rm(dist, { recursive: true, force: true }), rm(emptyDir, { recursive: true, force: true })]);
});

describe("the compiled iot-gateway binary", () => {
  test("prints its name and build version", () => {
    const run = Bun.spawnSync([binary, "--version"], { cwd: emptyDir, env: {} });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toMatch(/^iot-gateway \d+\.\d+\.\d+(\+\S+)? \(Bun \S+, linux-x64\)\n$/);
  });

  test("without a config file, names each variable it needs and exits 2", () => {
    const run = Bun.spawnSync([binary], { cwd: emptyDir, env: { UMOS_MQTT__URL: "mqtt://127.0.0.1:1" } });
    expect(run.exitCode).toBe(2);
    const stderr = run.stderr.toString();
    expect(stderr).toContain("config key bus.url: required; no config file was given (--config <file>), so set UMOS_BUS__URL");
    expect(stderr).not.toContain("UMOS_MQTT__URL");
  });

  test("relays device -> iot-uplink-queue and iot-gateway-queue -> device, configured by the environment alone", async () => {
    const [vhost, broker, port] = await Promise.all([createVhost(), startMosquitto(), freePort()]);
    const env = testEnv({ busUrl: vhost.url, mqttUrl: broker.url }, { UMOS_GATEWAY__PORT: String(port) });
    const gateway = Bun.spawn([binary], { cwd: emptyDir, env, stdout: "ignore", stderr: "pipe" });
    const stderr = new Response(gateway.stderr).text();
    const conn = await amqplib.connect(vhost.url);
    const device = await mqtt.connectAsync(broker.url, { clientId: "edge-device", protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/ready`)).ok, 10_000, "gateway binary ready");
      const ch = await conn.createConfirmChannel();
      const uplinked: amqplib.ConsumeMessage[] = [];
      await ch.consume(QUEUES.uplink, (m) => m && uplinked.push(m), { noAck: true });

      await device.publishAsync("generic/edge-1/property/report", '{"id":"r-1","data":{"t":21.5}}', { qos: 1 });
      const frame = await eventually(() => uplinked[0], 5000, "frame on iot-uplink-queue");
      expect(frame.fields.routingKey).toBe("iot.generic.device.property.report");
      expect(frame.content.toString()).toBe('{"id":"r-1","data":{"t":21.5}}');

      const calls: string[] = [];
      device.on("message", (topic, payload) => calls.push(`${topic} ${payload.toString()}`));
      await device.subscribeAsync("generic/edge-1/service/call", { qos: 1 });
      ch.publish(EXCHANGE, "iot.generic.gateway.service.call", Buffer.from('{"service":"reboot"}'), {
        headers: { [HEADERS.mqttTopic]: "generic/edge-1/service/call" },
        persistent: true,
      });
      await ch.waitForConfirms();
      await eventually(() => calls.length === 1, 5000, "call delivered to the device");
      expect(calls[0]).toBe('generic/edge-1/service/call {"service":"reboot"}');
    } finally {
      gateway.kill("SIGTERM");
      const code = await gateway.exited;
      await Promise.all([device.endAsync(), conn.close()]);
      await Promise.all([vhost.dispose(), broker.stop()]);
      // Drained and stopped within its budget; nothing from mqtt.js or Node's deprecations inside the binary.
      expect(code).toBe(0);
      expect(await stderr).not.toContain("Warning");
    }
  }, 30_000);

  test("cross-compiles for linux-arm64 (an aarch64 executable; it cannot run here)", async () => {
    const arm = await build("bun-linux-arm64");
    const header = new DataView(await Bun.file(arm).slice(0, 20).arrayBuffer());
    expect(header.getUint32(0)).toBe(0x7f454c46); // "\x7fELF"
    expect(header.getUint16(18, true)).toBe(183); // e_machine EM_AARCH64
  }, 60_000);
});
