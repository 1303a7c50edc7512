import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataLayout, lockDataDir } from "./data-dir";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "umos-data-dir-"));
  dirs.push(dir);
  return dir;
}

test("a data directory held by a live process is refused, naming the process", async () => {
  const dir = await tempDir();
  const holder = Bun.spawn(["sleep", "30"]);
  try {
    await Bun.write(dataLayout(dir).lock, String(holder.pid));
    expect(() => lockDataDir(dir)).toThrow(`data directory ${dir} is in use by process ${holder.pid}`);
  } finally {
    holder.kill();
  }
});

test("a lock left by a process that died (kill -9) is taken over, and released on stop", async () => {
  const dir = await tempDir();
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  await Bun.write(dataLayout(dir).lock, String(dead.pid));
  const lock = lockDataDir(dir);
  expect(await Bun.file(dataLayout(dir).lock).text()).toBe(String(process.pid));
  lock.release();
  expect(await Bun.file(dataLayout(dir).lock).exists()).toBe(false);
});
