import { sameSecret } from "./local-secret";

/**
 * Device passwords: random, shown once, stored only as hashes, so a leaked database does not leak
 * device credentials. The secret is 192 random bits, out of reach of any guessing, so one SHA-256
 * hides it as well as a slow password hash would (the reason API tokens are stored this way), and
 * costs microseconds rather than ~100 ms of CPU and 64 MiB per login or registration: a fleet that
 * reconnects at once, or 10,000 devices imported in one request, would otherwise wait minutes.
 * Hashes made earlier with Bun.password (argon2id) are still verified.
 */
export function newDeviceSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
}

const SHA256 = "sha256$";

const digest = (secret: string) => SHA256 + new Bun.CryptoHasher("sha256").update(secret).digest("base64url");

export const hashSecret = async (secret: string): Promise<string> => digest(secret);

export const verifySecret = async (secret: string, hash: string): Promise<boolean> =>
  hash.startsWith(SHA256) ? sameSecret(digest(secret), hash) : Bun.password.verify(secret, hash).catch(() => false);
