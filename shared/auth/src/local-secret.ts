import { timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UmosError } from "@umos/core";

/** The file, in a data directory, holding the HS256 secret that `bun run start` and `bun run dev` sign tokens with. */
export const LOCAL_SECRET_FILE = "auth-secret";

/**
 * The signing secret of a local installation: read from `<dataDir>/auth-secret`, or made on first use
 * (32 random bytes, base64url) and written readable by this user alone (0600). The development secret
 * in the repository is public; this one never leaves the machine. A file others may read is refused
 * rather than trusted: whoever read it can mint an admin token.
 */
export function localSecret(dataDir: string): string {
  const path = join(dataDir, LOCAL_SECRET_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"), { flag: "wx", mode: 0o600 });
    // The umask cannot widen 0600, but it may narrow it; set it exactly.
    chmodSync(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new UmosError(
      "secret_file_exposed",
      `${path} may be read by other users (mode 0${mode.toString(8)}): run chmod 600 ${path}, or delete it to make a new secret`,
      false,
    );
  }
  const secret = readFileSync(path, "utf8").trim();
  if (secret.length < 32)
    throw new UmosError("secret_file_invalid", `${path} holds no usable secret (under 32 characters): delete it to make a new one`, false);
  return secret;
}

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  // Hashing first gives equal lengths, so the comparison leaks neither the content nor the length.
  const a = new Bun.CryptoHasher("sha256").update(given).digest();
  const b = new Bun.CryptoHasher("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
