import postgres from "postgres";
import { silentLogger } from "@umos/core";
import { openMigratedDatabase, type Database } from "./database";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * A migrated database of its own for a store test (the store cannot use @umos/testkit, which
 * depends on it); `dispose` closes it and drops it.
 */
export async function scratchDatabase(label: string, maxConnections = 4): Promise<{ db: Database; dispose(): Promise<void> }> {
  const name = `umos_test_${label}_${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const db = await openMigratedDatabase({ url: url.toString(), maxConnections }, silentLogger);
  return {
    db,
    async dispose() {
      await db.close();
      const drop = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      await drop.unsafe(`drop database if exists ${name} with (force)`);
      await drop.end();
    },
  };
}
