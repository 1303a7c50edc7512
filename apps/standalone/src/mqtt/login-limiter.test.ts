import { expect, test } from "bun:test";
import { createLoginLimiter } from "./login-limiter";

test("a username that failed its limit is refused until its window ends; other usernames are not", () => {
  let now = 0;
  const limiter = createLoginLimiter({ maxFailures: 3, windowMs: 1000 }, () => now);
  for (let i = 0; i < 3; i++) limiter.failed("dock-1");
  expect(limiter.blocked("dock-1")).toBe(true);
  expect(limiter.blocked("dock-2")).toBe(false);
  now = 999;
  expect(limiter.blocked("dock-1")).toBe(true);
  now = 1000;
  expect(limiter.blocked("dock-1")).toBe(false);
});

test("a good login forgets the username's failures", () => {
  const limiter = createLoginLimiter({ maxFailures: 3, windowMs: 1000 }, () => 0);
  limiter.failed("dock-1");
  limiter.failed("dock-1");
  limiter.succeeded("dock-1");
  limiter.failed("dock-1");
  limiter.failed("dock-1");
  expect(limiter.blocked("dock-1")).toBe(false);
});
