import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort, uid } from "./services";

/**
 * The two time-series servers Debian ships, each for the path it speaks: VictoriaMetrics takes
 * InfluxDB's `/api/v2/write` (the official client's WriteApi) but answers no InfluxQL SELECT;
 * InfluxDB 1.6 answers InfluxQL on `/query` but has no v2 write API.
 */

export const INFLUXDB_URL = process.env.TEST_INFLUXDB_URL ?? "http://127.0.0.1:8086";

/** One series as VictoriaMetrics exports it: `{measurement}_{field}` with the point's tags as labels. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface TestVictoriaMetrics {
  url: string;
  /** Every sample of the matching series as stored, duplicates included (`/api/v1/export`), up to the last accepted write. */
  samples(selector: string): Promise<ExportedSeries[]>;
  /** SIGTERM: the server flushes and exits; its data stays for start(). */
  stop(): Promise<void>;
  /** Again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/**
 * A VictoriaMetrics of the test's own, on a free port with a fresh data directory: its v2 write API
 * keeps no bucket apart (1.79 stores no bucket label), and a test may stop it without touching
 * any other. Retention is long so fixed timestamps of the past are kept.
 */
export async function startVictoriaMetrics(): Promise<TestVictoriaMetrics> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "umos-vm-"));
  const url = `http://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    const args = [`-storageDataPath=${dir}`, `-httpListenAddr=127.0.0.1:${port}`, "-retentionPeriod=100y", "-loggerLevel=ERROR"];
    proc = Bun.spawn(["victoria-metrics", ...args], { stdout: "ignore", stderr: "inherit" });
    await eventually(async () => (await fetch(`${url}/health`)).ok, 10_000, `VictoriaMetrics on ${port}`);
  };
  const stop = async () => {
    proc?.kill("SIGTERM");
    await proc?.exited;
    proc = null;
  };
  await start();
  return {
    url,
    async samples(selector) {
      // Rows wait in memory for seconds before a search sees them; a test wants what was accepted so far.
      await fetch(`${url}/internal/force_flush`);
      const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ "match[]": selector })}`);
      if (!res.ok) throw new Error(`VictoriaMetrics export ${selector}: ${res.status} ${await res.text()}`);
      return (await res.text())
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as ExportedSeries);
    },
    stop,
    start,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestInfluxDatabase {
  url: string;
  database: string;
  /** Line protocol through the v1 `/write` endpoint, timestamps in ms. */
  write(lines: string[]): Promise<void>;
  dispose(): Promise<void>;
}

/** A database of the test's own on the shared InfluxDB 1.6 (`.ci/run` starts it), dropped afterwards. */
export async function createInfluxDatabase(): Promise<TestInfluxDatabase> {
  const database = `umos_test_${uid()}`;
  const statement = async (q: string) => {
    const res = await fetch(`${INFLUXDB_URL}/query`, { method: "POST", body: new URLSearchParams({ q }) }).catch((err: Error) => {
      throw new Error(`InfluxDB not reachable at ${INFLUXDB_URL} (bash .ci/run starts it): ${err.message}`);
    });
    const text = await res.text();
    // InfluxDB 1.x answers 200 to a statement that failed, with the error in its results.
    const failed = res.ok ? (JSON.parse(text) as { results?: { error?: string }[] }).results?.find((r) => r.error)?.error : text;
    if (failed) throw new Error(`InfluxDB ${q}: ${res.status} ${failed}`);
    return text;
  };
  // Seen in CI: a write right after CREATE DATABASE answered "database not found". CREATE is idempotent
  // in 1.x: asked again until the database is listed.
  await eventually(
    async () => {
      await statement(`CREATE DATABASE "${database}"`);
      return (await statement("SHOW DATABASES")).includes(`"${database}"`);
    },
    5000,
    `InfluxDB database ${database}`,
  );
  return {
    url: INFLUXDB_URL,
    database,
    async write(lines) {
      const res = await fetch(`${INFLUXDB_URL}/write?${new URLSearchParams({ db: database, precision: "ms" })}`, { method: "POST", body: lines.join("\n") });
      if (res.status !== 204) throw new Error(`InfluxDB /write: ${res.status} ${await res.text()}`);
    },
    dispose: async () => {
      await statement(`DROP DATABASE "${database}"`);
    },
  };
}
