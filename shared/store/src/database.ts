import postgres from "postgres";
import type { Logger, Probe } from "@umos/core";
import { migrate } from "./migrate";

export type Sql = postgres.Sql;

export interface DatabaseOptions {
  url: string;
  maxConnections: number;
  /** Default 5 s (config postgres.connectTimeoutMs). */
  connectTimeoutMs?: number;
}

export interface Database {
  sql: Sql;
  probe: Probe;
  close(): Promise<void>;
}

export function openDatabase(options: DatabaseOptions): Database {
  const sql = postgres(options.url, {
    max: options.maxConnections,
    connect_timeout: (options.connectTimeoutMs ?? 5000) / 1000,
    onnotice: () => {},
    // Timestamps and counts come back as JS values, never strings (docs/findings.md: bigint is a string otherwise).
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
    // postgres.js waits 3^n/100 s (up to 20 s) before its n-th reconnect: after an 8 s outage the
    // services sat idle 3-4 s more with the database back (fault suite). Capped at 1 s instead.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
  });
  return {
    sql,
    probe: {
      name: "postgres",
      check: async () => {
        await sql`select 1`;
        return true;
      },
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Creates the database named in `url` if it does not exist (development convenience). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!row) await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Opens the pool and brings the schema up to date; what every service that stores starts with. */
export async function openMigratedDatabase(options: DatabaseOptions, log: Logger): Promise<Database> {
  const db = openDatabase(options);
  try {
    await migrate(db.sql, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/**
 * A value for a jsonb parameter. postgres.js serializes a parameter by the type the server infers,
 * so a JSON string sent to `$1::jsonb` would be encoded twice: pass the value itself.
 */
export function json(sql: Sql, value: unknown) {
  return sql.json(value as postgres.JSONValue);
}
