import { expect, test } from "bun:test";
import { hashSecret, newDeviceSecret, verifySecret } from "./device-secrets";

test("a device secret verifies against its hash only, and the hash does not contain it", async () => {
  const secret = newDeviceSecret();
  const hash = await hashSecret(secret);
  expect(hash).not.toContain(secret);
  expect(await verifySecret(secret, hash)).toBe(true);
  expect(await verifySecret(`${secret}x`, hash)).toBe(false);
  expect(await verifySecret(newDeviceSecret(), hash)).toBe(false);
  expect(await verifySecret(secret, "garbage")).toBe(false);
});

test("a secret hashed with argon2id before the switch still verifies", async () => {
  const secret = newDeviceSecret();
  const older = await Bun.password.hash(secret, { algorithm: "argon2id", memoryCost: 1024, timeCost: 1 });
  expect(await verifySecret(secret, older)).toBe(true);
  expect(await verifySecret(newDeviceSecret(), older)).toBe(false);
});
