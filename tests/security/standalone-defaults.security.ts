import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import mqtt from "mqtt";
import { mintToken } from "@umos/auth";
import { DEV_JWT_SECRET } from "@umos/config";
import { eventually, freePort, jsonClient } from "@umos/testkit";
import { freeStandalonePorts, startStandalone, type StandaloneProcess, type StandalonePorts } from "../standalone/standalone-process";
import { rawRequest } from "./raw-http";
import { tally } from "./tally";

/**
 * `bun run start` on a fresh data directory, as a newcomer runs it on a laptop on a shared network
 * (docs/design.md §8): nothing reachable from another machine, tokens signed with a secret of its own kept
 * readable by its owner alone, no answer to a page that rebinds its DNS name to 127.0.0.1, and no
 * device data on the pages anyone may read. Beside it, a service started by hand with the public
 * development secret refuses a network listener.
 */
const ROOT = resolve(import.meta.dir, "../..");
let dataDir: string;
let ports: StandalonePorts;
let standalone: StandaloneProcess | undefined;
let admin: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "umos-security-standalone-"));
  ports = await freeStandalonePorts();
  // No secret given: it makes its own, as on a user's machine.
  standalone = await startStandalone(dataDir, ports, { UMOS_AUTH__SECRET: undefined });
  admin = (await run(["bun", "scripts/token.ts", "--role", "admin", "--data-dir", dataDir])).stdout.trim();
}, 90_000);

afterAll(async () => {
  await standalone?.kill();
  await rm(dataDir, { recursive: true, force: true });
});

async function run(cmd: string[], env: Record<string, string> = {}) {
  const withoutUmos = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("UMOS_")));
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...withoutUmos, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** The TCP sockets a process listens on, as local address:port, from /proc (inode of each socket fd). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  const found: string[] = [];
  for (const file of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A is LISTEN; column 9 is the socket's inode.
      if (cols.length < 10 || cols[3] !== "0A" || !inodes.has(cols[9]!)) continue;
      found.push(decodeAddress(cols[1]!));
    }
  }
  return found;
}

/** `0100007F:1F90` -> `127.0.0.1:8080`; IPv6 as 32 hex digits in four little-endian words. */
function decodeAddress(hex: string): string {
  const [addr, port] = hex.split(":") as [string, string];
  const words = addr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(""));
  const ip =
    addr.length === 8
      ? words[0]!
          .match(/../g)!
          .map((b) => parseInt(b, 16))
          .join(".")
      : new URL(`http://[${words.join("").match(/.{4}/g)!.join(":")}]`).hostname;
  return `${ip}:${parseInt(port, 16)}`;
}

const loopback = (address: string) => address.startsWith("127.") || address.startsWith("[::1]:");

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
    socket.once("timeout", () => {
      socket.destroy();
      done(false);
    });
  });
}

test("standalone on a fresh data directory: loopback only, its own secret, no DNS rebinding, no data on public pages", async () => {
  const family = tally("standalone defaults");
  const pid = standalone!.proc.pid;

  const sockets = listeningSockets(pid);
  family.check("it listens at all", sockets.length >= 8, { detail: `found ${sockets.join(", ")}` });
  for (const socket of sockets) family.check(`listener ${socket} is on loopback`, loopback(socket), { refusal: true });

  const external = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === "IPv4" && !i.internal)
    .map((i) => i!.address);
  for (const address of external) {
    for (const [name, port] of Object.entries(ports)) {
      family.check(`${name} (${port}) is not reachable on ${address}`, !(await connects(address, port)), { refusal: true });
    }
  }
  if (external.length === 0)
    console.log("security | standalone defaults | this machine has no non-loopback IPv4 address: reachability from the network not tried");

  const secretFile = join(dataDir, "auth-secret");
  family.check("the signing secret is made in the data directory, readable by its owner alone", (statSync(secretFile).mode & 0o777) === 0o600, {
    detail: `mode 0${(statSync(secretFile).mode & 0o777).toString(8)}`,
  });
  family.check("the secret is not the public development secret", readFileSync(secretFile, "utf8").trim() !== DEV_JWT_SECRET);

  const api = `http://127.0.0.1:${ports.api}`;
  const devToken = await mintToken({ secret: DEV_JWT_SECRET, issuer: "umos", audience: "umos-api", role: "admin" });
  const asDev = await fetch(`${api}/api/v1/devices`, { headers: { authorization: `Bearer ${devToken}` } });
  family.check("an admin token signed with the public development secret is refused", asDev.status === 401, { refusal: true, detail: `got ${asDev.status}` });
  const wsDev = await rawRequest(ports.ws, {
    method: "GET",
    target: `/ws?token=${devToken}`,
    headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" },
  });
  family.check("the WebSocket refuses the development secret's token too", wsDev === 401, { refusal: true, detail: `got ${wsDev}` });
  const asOwn = await fetch(`${api}/api/v1/devices`, { headers: { authorization: `Bearer ${admin}` } });
  family.check("`bun run token -- --data-dir` signs with the data directory's secret", asOwn.status === 200, { detail: `got ${asOwn.status}` });

  // A page at evil.example whose name now points at 127.0.0.1 sends Host: evil.example.
  const rebinding: Array<[string, number, string, string | undefined]> = [
    ["REST API", ports.api, "/api/v1/devices", admin],
    ["console", ports.api, "/", undefined],
    ["API health", ports.api, "/health", undefined],
    ["WebSocket", ports.ws, `/ws?token=${admin}`, undefined],
    ["iot-uplink metrics", ports.uplink, "/metrics", undefined],
    ["iot-downlink health", ports.downlink, "/health", undefined],
    ["iot-gateway health", ports.gateway, "/ready", undefined],
    ["iot-rules health", ports.rules, "/health", undefined],
  ];
  for (const [what, port, target, token] of rebinding) {
    const status = await rawRequest(port, { method: "GET", target, host: `evil.example:${port}`, token });
    family.check(`${what} refuses Host: evil.example`, status === 400, { refusal: true, detail: `got ${status}` });
    const local = await rawRequest(port, {
      method: "GET",
      target,
      host: `localhost:${port}`,
      token,
      headers: target.startsWith("/ws")
        ? { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" }
        : {},
    });
    family.check(`${what} answers Host: localhost`, local >= 100 && local < 300, { detail: `got ${local}` });
  }

  // A device reports; nothing of it may show on the pages anyone may read.
  const rest = jsonClient(api, admin);
  const created = await rest.post("/api/v1/devices", { id: "sd-private-device", vendor: "generic" });
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
    protocolVersion: 4,
    clientId: "sd-private-device",
    username: "sd-private-device",
    password: created.body.credentials.password,
    reconnectPeriod: 0,
  });
  await device.publishAsync("generic/sd-private-device/property/report", JSON.stringify({ id: "r1", data: { secretValue: 4242 } }), { qos: 1 });
  await eventually(async () => (await rest.get("/api/v1/devices/sd-private-device/messages")).body.items.length === 1, 10_000, "report stored");
  await device.endAsync();
  for (const [what, url] of [
    ["iot-api /metrics", `${api}/metrics`],
    ["iot-api /ready", `${api}/ready`],
    ["iot-ws /metrics", `http://127.0.0.1:${ports.ws}/metrics`],
    ["iot-uplink /metrics", `http://127.0.0.1:${ports.uplink}/metrics`],
    ["iot-downlink /metrics", `http://127.0.0.1:${ports.downlink}/metrics`],
    ["iot-gateway /metrics", `http://127.0.0.1:${ports.gateway}/metrics`],
    ["iot-rules /metrics", `http://127.0.0.1:${ports.rules}/metrics`],
    ["console config", `${api}/console/config`],
  ]) {
    const body = await (await fetch(url!)).text();
    family.check(`${what} shows no device data`, !body.includes("sd-private-device") && !body.includes("4242"));
  }

  // The console and the API docs: their own scripts only, no framing.
  for (const [what, path] of [
    ["console", "/"],
    ["API docs", "/openapi"],
  ] as const) {
    const res = await fetch(`${api}${path}`);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? "";
    family.check(`${what}: a Content-Security-Policy without inline script`, scriptSrc.length > 0 && !scriptSrc.includes("unsafe"), { detail: csp });
    family.check(`${what}: framing forbidden`, res.headers.get("x-frame-options") === "DENY" && csp.includes("frame-ancestors 'none'"));
    family.check(
      `${what}: no sniffing, no referrer`,
      res.headers.get("x-content-type-options") === "nosniff" && res.headers.get("referrer-policy") === "no-referrer",
    );
    const inline = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].filter(
      ([, attributes, body]) => !/\bsrc=/.test(attributes!) || body!.trim() !== "",
    );
    family.check(`${what}: the page itself has no inline script`, inline.length === 0, { detail: inline.map((m) => m[0]).join(" ") });
  }
  expect(family.report()).toEqual([]);
}, 90_000);

test("a service started by hand refuses to face the network while it would sign with the public development secret", async () => {
  const family = tally("network listeners and the development secret");
  for (const [service, key] of [
    ["iot-api", "UMOS_API__HOST"],
    ["iot-ws", "UMOS_WS__HOST"],
  ] as const) {
    const port = await freePort();
    const { code, stderr } = await run(["bun", `apps/${service}/src/main.ts`], {
      [key]: "0.0.0.0",
      [key.replace("HOST", "PORT")]: String(port),
      UMOS_BUS__URL: "amqp://guest:guest@127.0.0.1:1/",
      UMOS_POSTGRES__URL: "postgres://127.0.0.1:1/none",
    });
    const line = stderr.trim();
    family.check(`${service} on 0.0.0.0 with configs/config.dev.yaml's secret stops at once`, code === 2 && line.includes("refusing to listen on 0.0.0.0"), {
      refusal: true,
      detail: `exit ${code}: ${line}`,
    });
  }
  expect(family.report()).toEqual([]);
}, 60_000);
