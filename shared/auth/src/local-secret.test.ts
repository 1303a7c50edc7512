import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localSecret, sameSecret } from "./local-secret";

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "umos-secret-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("a data directory gets its own secret on first use, readable by its owner alone, and keeps it", () => {
  const dir = fresh();
  const first = localSecret(dir);
  expect(first.length).toBeGreaterThanOrEqual(32);
  expect(statSync(join(dir, "auth-secret")).mode & 0o777).toBe(0o600);
  expect(localSecret(dir)).toBe(first);
  expect(localSecret(fresh())).not.toBe(first);
});

test("a secret file other users may read is refused, not trusted", () => {
  const dir = fresh();
  localSecret(dir);
  chmodSync(join(dir, "auth-secret"), 0o644);
  expect(() => localSecret(dir)).toThrow("may be read by other users (mode 0644)");
  expect(readFileSync(join(dir, "auth-secret"), "utf8").length).toBeGreaterThan(0);
});

test("secrets compare equal only when they are", () => {
  expect(sameSecret("a-webhook-token-0123", "a-webhook-token-0123")).toBe(true);
  expect(sameSecret("a-webhook-token-0124", "a-webhook-token-0123")).toBe(false);
  expect(sameSecret("short", "a-webhook-token-0123")).toBe(false);
  expect(sameSecret(undefined, "a-webhook-token-0123")).toBe(false);
  expect(sameSecret("", "")).toBe(true);
});
