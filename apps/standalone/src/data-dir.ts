import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UmosError } from "@umos/core";

/** Where each embedded part keeps its data, under one directory. */
export function dataLayout(dataDir: string) {
  return {
    postgres: join(dataDir, "postgres"),
    mqtt: join(dataDir, "mqtt.sqlite"),
    bus: join(dataDir, "bus.sqlite"),
    /** Firmware package files (not in a backup: copy the directory beside it). */
    firmware: join(dataDir, "firmware"),
    lock: join(dataDir, "standalone.pid"),
    /** Where the running process takes commands of its own user (backup), HTTP on a Unix socket. */
    control: join(dataDir, "control.sock"),
  };
}

/**
 * Claims the data directory for this process: two processes on one PGlite cluster or one SQLite
 * bus would corrupt them. A lock left by a process that died (kill -9) is taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const lock = dataLayout(dataDir).lock;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return { release: () => rmSync(lock, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number(readFileSync(lock, "utf8"));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new UmosError(
        "data_dir_in_use",
        `data directory ${dataDir} is in use by process ${holder} (another bun run start?); stop it or pass --data-dir`,
        false,
      );
    }
    rmSync(lock, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
