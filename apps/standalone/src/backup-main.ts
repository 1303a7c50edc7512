/**
 * `bun run backup -- --out FILE [--data-dir DIR]` and `bun run restore -- --from FILE --data-dir DIR`
 * (docs/standalone.md, Backup and restore). A running standalone takes the snapshot itself, through
 * its control socket; a stopped data directory is read here, locked meanwhile.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UmosError } from "@umos/core";
import { commandLine } from "@umos/runtime";
import { restoreSnapshot, snapshotStopped, type Manifest } from "./backup";
import { dataLayout, lockDataDir } from "./data-dir";

const [action, ...argv] = process.argv.slice(2);

const BACKUP_USAGE = `bun run backup -- --out <file> [--data-dir <dir>]: a snapshot of a standalone data directory in one file

  --out <file>        where the snapshot goes (tar, gzip; readable by you alone: it holds the signing secret)
  --data-dir <dir>    the data directory of bun run start (default ./data), running or stopped`;

const RESTORE_USAGE = `bun run restore -- --from <file> --data-dir <dir>: a snapshot brought back into a new data directory

  --from <file>       a snapshot of bun run backup
  --data-dir <dir>    a new or empty directory; then: bun run start -- --data-dir <dir>`;

try {
  if (action === "backup") {
    const values = commandLine(
      "backup",
      BACKUP_USAGE,
      { out: { type: "string" }, "data-dir": { type: "string", default: "data" } },
      { argv, asked: "bun run backup -- --help" },
    );
    if (!values.out) fail("--out <file> is required (bun run backup -- --help)", 2);
    const out = resolve(values.out);
    const dataDir = resolve(values["data-dir"]);
    report("backup", out, await backup(dataDir, out));
  } else if (action === "restore") {
    const values = commandLine(
      "restore",
      RESTORE_USAGE,
      { from: { type: "string" }, "data-dir": { type: "string" } },
      { argv, asked: "bun run restore -- --help" },
    );
    if (!values.from || !values["data-dir"]) fail("--from <file> and --data-dir <dir> are required (bun run restore -- --help)", 2);
    const dataDir = resolve(values["data-dir"]);
    report("restore", dataDir, await restoreSnapshot(resolve(values.from), dataDir));
    console.log(`start it with: bun run start -- --data-dir ${dataDir}`);
  } else fail("usage: bun run backup -- --help, or bun run restore -- --help", 2);
} catch (err) {
  fail(err instanceof UmosError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err), 1);
}

/** Through the running process's control socket when one holds the directory, else from the files here. */
async function backup(dataDir: string, out: string): Promise<Manifest> {
  let lock: { release(): void };
  try {
    lock = lockDataDir(dataDir);
  } catch (err) {
    if (!(err instanceof UmosError) || err.code !== "data_dir_in_use") throw err;
    const response = await fetch("http://localhost/backup", {
      method: "POST",
      unix: dataLayout(dataDir).control,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ out }),
    }).catch((cause: Error) => {
      throw new UmosError("control_unreachable", `the running standalone's control socket did not answer (${cause.message}); is it an older version?`, false);
    });
    const body = (await response.json()) as Manifest & { error?: string };
    if (!response.ok) throw new UmosError("backup_failed", `the running standalone could not write the backup: ${body.error}`, false);
    return body;
  }
  try {
    const bus = dataLayout(dataDir).bus;
    return await snapshotStopped(dataDir, existsSync(bus) ? bus : null, out);
  } finally {
    lock.release();
  }
}

function report(what: string, where: string, manifest: Manifest): void {
  const parts = Object.entries(manifest.parts).map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`);
  console.log(`${what}: ${where} (taken ${manifest.takenAt}): ${parts.join(", ")}`);
}

function fail(message: string, code: number): never {
  console.error(`${action ?? "backup"}: ${message}`);
  process.exit(code);
}
