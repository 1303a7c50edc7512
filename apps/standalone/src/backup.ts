import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { LOCAL_SECRET_FILE } from "@umos/auth";
import { copyEmbeddedBus } from "@umos/bus";
import { UmosError } from "@umos/core";
import { dataLayout } from "./data-dir";

/** The snapshot format; restore refuses one it does not know. */
const FORMAT = 1;

/** What a snapshot holds, and when it was taken. */
export interface Manifest {
  format: number;
  takenAt: string;
  /** The parts in the archive, with their sizes in bytes. */
  parts: Record<string, number>;
}

/** Where a snapshot's parts come from: the running process's own, or a stopped data directory. */
export interface SnapshotSources {
  /** The PostgreSQL cluster as a gzipped tarball, taken between transactions. */
  postgres(): Promise<Blob>;
  /** The embedded bus's SQLite file; null when the bus is a RabbitMQ. */
  bus: string | null;
  /** The embedded MQTT broker's sessions (SQLite). */
  mqtt: string;
  dataDir: string;
}

/**
 * A consistent snapshot of a standalone data directory in one file (tar, gzip): PostgreSQL taken
 * while no transaction is open, each SQLite file (bus, MQTT sessions) through `VACUUM INTO`, one
 * transaction's view (the bus's through its own connection, whose lock admits no other), and the
 * signing secret. The parts are taken one
 * after the other, so a message may be in the bus's copy and already in PostgreSQL's: after a
 * restore it is delivered again and deduplicated, as after any redelivery. Written beside `out`
 * first and renamed, so `out` is never a half-written archive.
 */
export async function writeSnapshot(sources: SnapshotSources, out: string): Promise<Manifest> {
  const scratch = join(tmpdir(), `umos-backup-${process.pid}-${Bun.randomUUIDv7()}`);
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    // Bun.Archive takes contents, not files to read: each part is read into memory.
    const files: Record<string, Uint8Array> = { "postgres.tar.gz": await (await sources.postgres()).bytes() };
    if (sources.bus && existsSync(sources.bus)) {
      copyEmbeddedBus(sources.bus, join(scratch, "bus.sqlite"));
      files["bus.sqlite"] = await Bun.file(join(scratch, "bus.sqlite")).bytes();
    }
    if (existsSync(sources.mqtt)) files["mqtt.sqlite"] = await sqliteCopy(sources.mqtt, join(scratch, "mqtt.sqlite"));
    const secret = join(sources.dataDir, LOCAL_SECRET_FILE);
    if (existsSync(secret)) files[LOCAL_SECRET_FILE] = await Bun.file(secret).bytes();
    const manifest: Manifest = {
      format: FORMAT,
      takenAt: new Date().toISOString(),
      parts: Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, bytes.byteLength])),
    };
    const partial = `${out}.partial`;
    await Bun.Archive.write(partial, { "manifest.json": JSON.stringify(manifest, null, 2), ...files }, { compress: "gzip" });
    // The signing secret is in it: readable by this user alone, like the data directory's own copy.
    chmodSync(partial, 0o600);
    renameSync(partial, out);
    return manifest;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One transaction's view of a SQLite database, as a file of its own, read back. */
async function sqliteCopy(source: string, target: string): Promise<Uint8Array> {
  const db = new Database(source);
  try {
    // The broker's writes take the lock for a moment; wait for them rather than fail.
    db.run("PRAGMA busy_timeout = 5000");
    db.run(`VACUUM INTO '${target.replaceAll("'", "''")}'`);
  } finally {
    db.close();
  }
  return Bun.file(target).bytes();
}

/** A snapshot of a stopped data directory: PGlite opened here, on the directory this process has locked. */
export async function snapshotStopped(dataDir: string, bus: string | null, out: string): Promise<Manifest> {
  const layout = dataLayout(dataDir);
  if (!existsSync(layout.postgres)) throw new UmosError("no_data", `${dataDir} holds no UMOS data (no ${layout.postgres})`, false);
  const pg = await PGlite.create({ dataDir: layout.postgres });
  try {
    return await writeSnapshot({ postgres: () => pg.dumpDataDir("gzip"), bus, mqtt: layout.mqtt, dataDir }, out);
  } finally {
    await pg.close();
  }
}

/**
 * Brings a snapshot back into a new data directory: one that does not exist or is empty, so a
 * restore never mixes with or overwrites an installation. Start UMOS on it with --data-dir.
 */
export async function restoreSnapshot(file: string, dataDir: string): Promise<Manifest> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new UmosError("data_dir_not_empty", `${dataDir} is not empty: restore into a new directory, then start with --data-dir ${dataDir}`, false);
  }
  if (!existsSync(file)) throw new UmosError("no_snapshot", `${file} does not exist`, false);
  const files = await new Bun.Archive(await Bun.file(file).bytes()).files();
  const manifestFile = files.get("manifest.json");
  if (!manifestFile) throw new UmosError("not_a_snapshot", `${file} is not a UMOS snapshot (no manifest.json)`, false);
  const manifest = JSON.parse(await manifestFile.text()) as Manifest;
  if (manifest.format !== FORMAT)
    throw new UmosError("snapshot_format", `${file} is a snapshot of format ${manifest.format}; this UMOS reads format ${FORMAT}`, false);
  for (const [name, size] of Object.entries(manifest.parts)) {
    if (files.get(name)?.size !== size)
      throw new UmosError("snapshot_damaged", `${file}: ${name} is missing or not ${size} bytes; the snapshot is damaged`, false);
  }
  const layout = dataLayout(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pg = await PGlite.create({ dataDir: layout.postgres, loadDataDir: files.get("postgres.tar.gz")! });
  await pg.close();
  const bus = files.get("bus.sqlite");
  if (bus) await Bun.write(layout.bus, bus);
  const mqtt = files.get("mqtt.sqlite");
  if (mqtt) await Bun.write(layout.mqtt, mqtt);
  const secret = files.get(LOCAL_SECRET_FILE);
  if (secret) {
    const path = join(dataDir, LOCAL_SECRET_FILE);
    await Bun.write(path, secret);
    chmodSync(path, 0o600);
  }
  return manifest;
}
