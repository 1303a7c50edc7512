import { expect, test } from "bun:test";
import { createVerifier, mintToken } from "./jwt";

const options = { algorithm: "HS256" as const, secret: "s3cret-for-tests", issuer: "umos", audience: "umos-api", clockToleranceSec: 0 };

test("a token verified once is taken again until it expires, then refused", async () => {
  const verify = createVerifier(options);
  const token = await mintToken({ ...options, role: "operator", ttlSec: 1 });
  const first = await verify(token);
  expect(first).toMatchObject({ role: "operator", subject: "dev-operator" });
  expect(await verify(token)).toEqual(first);
  await Bun.sleep(Math.max(0, first.expiresAt! - Date.now()) + 50);
  await expect(verify(token)).rejects.toThrow("the token has expired");
});

test("a token that fails is refused every time, beside a good one", async () => {
  const verify = createVerifier(options);
  const good = await mintToken({ ...options, role: "viewer" });
  const forged = await mintToken({ ...options, secret: "another-secret", role: "admin" });
  expect((await verify(good)).role).toBe("viewer");
  for (let i = 0; i < 2; i++) await expect(verify(forged)).rejects.toThrow("the token's signature does not verify");
});
