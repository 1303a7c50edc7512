import { expect, test } from "bun:test";
import postgres from "postgres";
import { InvalidInputError, UnavailableError } from "@umos/core";
import { asUnavailable, withOutagesAsUnavailable } from "./outage";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

test("a database that cannot be reached is UnavailableError, so consumers wait for it instead of dead-lettering", async () => {
  const url = new URL(POSTGRES_URL);
  url.port = "1"; // nothing listens there
  const sql = postgres(url.toString(), { max: 1, connect_timeout: 2, onnotice: () => {} });
  const query = withOutagesAsUnavailable(async () => sql`select 1`);
  const err = await query().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnavailableError);
  expect((err as Error).message).toContain("PostgreSQL unavailable");
  await sql.end();
});

test("a statement the server refuses stays what it was: retrying cannot help it", async () => {
  const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
  const err = await sql`select * from no_such_table_anywhere`.catch((e: unknown) => e);
  expect(asUnavailable(err)).toBe(err);
  await sql.end();
});

test("SQLSTATEs of a server that cannot serve now are unavailability; other errors pass through", () => {
  for (const code of ["57P01", "57P03", "08006", "53300"]) expect(asUnavailable(Object.assign(new Error("x"), { code }))).toBeInstanceOf(UnavailableError);
  const invalid = new InvalidInputError("bad", "bad input");
  expect(asUnavailable(invalid)).toBe(invalid);
  expect(asUnavailable(Object.assign(new Error("dup"), { code: "23505" }))).not.toBeInstanceOf(UnavailableError);
});
