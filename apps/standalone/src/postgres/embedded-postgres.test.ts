import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { silentLogger } from "@umos/core";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres";

let dir: string;
let pg: EmbeddedPostgres;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "umos-pglite-"));
  pg = await startEmbeddedPostgres({ dataDir: join(dir, "postgres"), host: "127.0.0.1", port: 0, log: silentLogger });
}, 60_000);

afterAll(async () => {
  await pg?.close();
  await rm(dir, { recursive: true, force: true });
});

const pool = (max: number) => postgres(pg.url, { max, onnotice: () => {} });

test("several postgres.js pools at once get their own answers: extended-protocol sequences are not interleaved", async () => {
  const pools = [pool(3), pool(3), pool(3)];
  await pools[0]!`create table if not exists t (id int primary key)`;
  const wrong: string[] = [];
  await Promise.all(
    pools.map(async (sql, k) => {
      for (let i = 0; i < 60; i++) {
        const id = k * 1000 + i;
        const [inserted, echoed, inTx] = await Promise.all([
          sql`insert into t values (${id}) returning id`,
          sql`select ${id}::int as x`,
          sql.begin(async (tx) => {
            await tx`select 1`;
            return tx`select ${id + 1}::int as y`;
          }),
        ]);
        if (inserted[0]!.id !== id || echoed[0]!.x !== id || inTx[0]!.y !== id + 1) wrong.push(`${k}/${i}`);
      }
    }),
  );
  expect(wrong).toEqual([]);
  expect((await pools[0]!`select count(*)::int as n from t`)[0]!.n).toBe(180);
  await Promise.all(pools.map((p) => p.end()));
}, 60_000);

test("a connection that dies inside a transaction leaves the backend to the others, its work rolled back", async () => {
  const dying = postgres(pg.url, { max: 1, onnotice: () => {} });
  await dying`create table if not exists u (id int)`;
  const reserved = await dying.reserve();
  await reserved`begin`;
  await reserved`insert into u values (1)`;
  await dying.end({ timeout: 0 });

  const other = pool(1);
  expect((await other`select count(*)::int as n from u`)[0]!.n).toBe(0);
  await other.end();
});
