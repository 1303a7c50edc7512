import { expect, test } from "bun:test";
import { tokenBucket } from "./rate-limit";

test("a burst up to the rate passes, the next message does not, and time refills the bucket", () => {
  let now = 0;
  const bucket = tokenBucket(5, () => now);
  expect(Array.from({ length: 5 }, () => bucket.take())).toEqual([true, true, true, true, true]);
  expect(bucket.take()).toBe(false);
  now += 200; // a fifth of a second buys one message at 5/s
  expect(bucket.take()).toBe(true);
  expect(bucket.take()).toBe(false);
});
