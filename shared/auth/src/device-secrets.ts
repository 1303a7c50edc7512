/**
 * Device passwords: random, shown once, stored as Bun.password hashes (argon2id), so a leaked
 * database does not leak device credentials.
 */
export function newDeviceSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
}

export const hashSecret = (secret: string) => Bun.password.hash(secret);

export const verifySecret = (secret: string, hash: string) => Bun.password.verify(secret, hash).catch(() => false);
