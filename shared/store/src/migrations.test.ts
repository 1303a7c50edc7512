import { expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { MIGRATIONS } from "./migrations";

const dir = join(import.meta.dir, "../migrations");

test("every migration file is listed, in order, with its own text (a built service has no folder to read)", async () => {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  expect(MIGRATIONS.map((m) => m.file)).toEqual(files);
  for (const migration of MIGRATIONS) expect(migration.sql).toBe(await Bun.file(join(dir, migration.file)).text());
});
