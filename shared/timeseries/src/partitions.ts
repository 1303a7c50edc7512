import type { TransactionSql } from "postgres";
import type { Sql } from "@umos/store";

/** How a table is cut: a partition per UTC day or per UTC month, named `<table>_dYYYYMMDD` or `<table>_mYYYYMM`. */
export type PartitionUnit = "day" | "month";

export interface Partition {
  name: string;
  fromMs: number;
  toMs: number;
}

const DAY_MS = 86_400_000;

/** The partition holding `ms`. */
export function partitionOf(table: string, unit: PartitionUnit, ms: number): Partition {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const pad = (n: number) => String(n).padStart(2, "0");
  if (unit === "month") return { name: `${table}_m${y}${pad(m + 1)}`, fromMs: Date.UTC(y, m, 1), toMs: Date.UTC(y, m + 1, 1) };
  const fromMs = Date.UTC(y, m, d.getUTCDate());
  return { name: `${table}_d${y}${pad(m + 1)}${pad(d.getUTCDate())}`, fromMs, toMs: fromMs + DAY_MS };
}

/** The partition a name stands for; null for a name this scheme did not make. */
export function parsePartition(table: string, name: string): Partition | null {
  const match = new RegExp(`^${table}_(?:d(\\d{4})(\\d{2})(\\d{2})|m(\\d{4})(\\d{2}))$`).exec(name);
  if (!match) return null;
  const [, dy, dm, dd, my, mm] = match;
  return dy ? partitionOf(table, "day", Date.UTC(+dy, +dm! - 1, +dd!)) : partitionOf(table, "month", Date.UTC(+my!, +mm! - 1, 1));
}

/**
 * Makes the partitions that hold these instants, where missing. Two writers making the same one
 * queue on an advisory lock instead of failing on each other. `known` remembers what exists, so a
 * steady stream of points costs no catalogue query.
 */
export async function ensurePartitions(
  sql: Sql | TransactionSql,
  table: string,
  unit: PartitionUnit,
  instants: Iterable<number>,
  known: Set<string>,
): Promise<void> {
  const wanted = new Map<string, Partition>();
  for (const ms of instants) {
    const partition = partitionOf(table, unit, ms);
    if (!known.has(partition.name)) wanted.set(partition.name, partition);
  }
  if (wanted.size === 0) return;
  await inTransaction(sql, async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${table}))`;
    for (const p of wanted.values()) {
      await tx.unsafe(
        `create table if not exists "${p.name}" partition of "${table}" for values from ('${new Date(p.fromMs).toISOString()}') to ('${new Date(p.toMs).toISOString()}')`,
      );
    }
  });
  for (const name of wanted.keys()) known.add(name);
}

/** `fn` in a transaction: the one it is given, or a new one. */
async function inTransaction(sql: Sql | TransactionSql, fn: (tx: TransactionSql) => Promise<void>): Promise<void> {
  if ("begin" in sql) await sql.begin(fn);
  else await fn(sql);
}

/** The partitions of a table this scheme made, oldest first, with their size on disk. */
export async function listPartitions(sql: Sql, table: string): Promise<(Partition & { bytes: number })[]> {
  const rows = await sql<{ name: string; bytes: bigint }[]>`
    select c.relname as name, pg_total_relation_size(c.oid) as bytes
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    where p.relname = ${table}`;
  return rows
    .flatMap((row) => {
      const partition = parsePartition(table, row.name);
      return partition ? [{ ...partition, bytes: Number(row.bytes) }] : [];
    })
    .sort((a, b) => a.fromMs - b.fromMs);
}

/** Detaches and drops a partition: its rows go at once, without a DELETE or a VACUUM. */
export async function dropPartition(sql: Sql, table: string, name: string): Promise<void> {
  if (!parsePartition(table, name)) throw new Error(`${name} is not a partition of ${table}`);
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${table}))`;
    await tx.unsafe(`drop table if exists "${name}"`);
  });
}

/** A row went to a range no partition holds (retention dropped it meanwhile): make it again and retry. */
export function isMissingPartition(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23514" && String((err as Error).message).includes("no partition");
}
