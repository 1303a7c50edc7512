import type { Logger } from "@umos/core";
import type { Sql } from "postgres";
import { MIGRATIONS } from "./migrations";

// Any constant shared by every service; the lock serialises migration among replicas starting together.
const LOCK_KEY = 0x756d6f73;

/**
 * Applies numbered migrations (`NNN_name.sql`) not yet recorded in schema_migrations, each in its
 * own transaction, under an advisory lock so services starting at once do not race.
 */
export async function migrate(sql: Sql, log: Logger): Promise<number[]> {
  const applied: number[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ version: number }[]>`select version from schema_migrations`).map((r) => r.version));
    for (const { file, sql: statements } of MIGRATIONS) {
      const version = Number.parseInt(file, 10);
      if (done.has(version)) continue;
      await tx.unsafe(statements);
      await tx`insert into schema_migrations (version, name) values (${version}, ${file})`;
      applied.push(version);
      log.info("applied migration", { file });
    }
  });
  return applied;
}
