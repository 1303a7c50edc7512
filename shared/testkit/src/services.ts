import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { silentLogger } from "@umos/core";
import { openMigratedDatabase, type Database } from "@umos/store";

/**
 * Test isolation on the real services: each test gets its own RabbitMQ vhost, its own PostgreSQL
 * database and its own Mosquitto on a free port, and removes them afterwards.
 */

export const RABBITMQ_HOST = process.env.TEST_RABBITMQ_HOST ?? "127.0.0.1:5672";
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const uid = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/**
 * A port nothing listens on, for a process the test starts later. Picked below Linux's ephemeral
 * range (32768-60999), which outgoing connections and port-0 listeners draw from: a port from that
 * range could be taken by a client socket between this check and the service binding it (seen in CI).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      const server = Bun.listen({ hostname: "0.0.0.0", port, socket: { data() {} } });
      server.stop(true);
      return port;
    } catch {
      // taken: try another
    }
  }
}

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const proc = Bun.spawn(["rabbitmqctl", "-q", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${err || out}`);
  return out;
}

export interface TestVhost {
  name: string;
  url: string;
  dispose(): Promise<void>;
}

export async function createVhost(): Promise<TestVhost> {
  const name = `umos-test-${uid()}`;
  await rabbitmqctl("add_vhost", name);
  await rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*");
  return {
    name,
    url: `amqp://guest:guest@${RABBITMQ_HOST}/${encodeURIComponent(name)}`,
    dispose: async () => void (await rabbitmqctl("delete_vhost", name)),
  };
}

export interface TestBusFile {
  /** `embedded:<file>`, for config key bus.url. */
  url: string;
  dispose(): Promise<void>;
}

/** The embedded bus in a temporary file: for service tests that do not test a broker. */
export async function createBusFile(): Promise<TestBusFile> {
  const dir = await mkdtemp(join(tmpdir(), "umos-bus-"));
  return { url: `embedded:${join(dir, "bus.sqlite")}`, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestDatabase {
  name: string;
  url: string;
  dispose(): Promise<void>;
}

export async function createDatabase(): Promise<TestDatabase> {
  const name = `umos_test_${uid()}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    dispose: async () => {
      const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}

/** A database of the test's own with the schema in place, and a pool on it; dispose closes both. */
export async function createMigratedDatabase(maxConnections = 4): Promise<TestDatabase & { db: Database }> {
  const database = await createDatabase();
  const db = await openMigratedDatabase({ url: database.url, maxConnections }, silentLogger);
  return {
    ...database,
    db,
    dispose: async () => {
      await db.close();
      await database.dispose();
    },
  };
}

export interface TestMosquitto {
  port: number;
  url: string;
  pid: number;
  /** Stops the broker (SIGTERM: it saves its sessions) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Mosquitto with the project's own config (deployments/mosquitto) on a free port. */
export async function startMosquitto(options: { tls?: { caFile: string; certFile: string; keyFile: string } } = {}): Promise<TestMosquitto> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "umos-mosquitto-"));
  // Started as root, Mosquitto drops to its own user before it writes its persistence file: without
  // this its sessions would not survive restart().
  await chmod(dir, 0o777);
  const base = await Bun.file(resolve(import.meta.dir, "../../../deployments/mosquitto/mosquitto.conf")).text();
  // With tls, the one listener speaks MQTT over TLS with the given certificate (mqtts://).
  const tlsLines = options.tls ? `\ncafile ${options.tls.caFile}\ncertfile ${options.tls.certFile}\nkeyfile ${options.tls.keyFile}` : "";
  const conf = base.replace(/^listener .*$/m, `listener ${port} 127.0.0.1${tlsLines}`).replace(/^persistence_location .*$/m, `persistence_location ${dir}/`);
  await Bun.write(join(dir, "mosquitto.conf"), conf);
  const spawn = () => Bun.spawn(["mosquitto", "-c", join(dir, "mosquitto.conf")], { stdout: "ignore", stderr: "pipe" });
  let proc = spawn();
  await waitForPort(port, 5000);
  return {
    port,
    url: options.tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`,
    get pid() {
      return proc.pid;
    },
    restart: async ({ downMs = 0 } = {}) => {
      proc.kill("SIGTERM");
      await proc.exited;
      await Bun.sleep(downMs);
      proc = spawn();
      await waitForPort(port, 5000);
    },
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
      await Bun.sleep(20);
    }
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails with the last error. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await Bun.sleep(25);
  }
}
