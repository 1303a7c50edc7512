import { createHmac } from "node:crypto";
import { sameSecret } from "./local-secret";

/**
 * Download links for firmware: `/api/v1/firmware/<id>/download?expires=<unix s>&signature=<hex>`,
 * the signature an HMAC-SHA256 of `<id>.<expires>`. A device needs no token, only the link the
 * update command carries; the link works for that package until it expires, on every replica that
 * shares the key.
 */
export interface FirmwareLinks {
  /** A link valid for `ttlSec` from now, on `base` (scheme, host and port). */
  sign(packageId: string, base: string, ttlSec: number): { url: string; expiresAt: Date };
  /** Whether the link's signature is this key's and it has not expired. */
  valid(packageId: string, expires: string | null, signature: string | null): boolean;
}

export function firmwareLinks(key: string, now: () => number = Date.now): FirmwareLinks {
  const mac = (packageId: string, expires: string) => createHmac("sha256", key).update(`${packageId}.${expires}`).digest("hex");
  return {
    sign(packageId, base, ttlSec) {
      const expires = String(Math.floor(now() / 1000) + ttlSec);
      const url = `${base}/api/v1/firmware/${packageId}/download?expires=${expires}&signature=${mac(packageId, expires)}`;
      return { url, expiresAt: new Date(Number(expires) * 1000) };
    },
    valid(packageId, expires, signature) {
      if (!expires || !signature || !/^[0-9]{1,12}$/.test(expires)) return false;
      if (Number(expires) * 1000 < now()) return false;
      return sameSecret(signature, mac(packageId, expires));
    },
  };
}

/** The links' key: firmware.urlSecret, else one derived from the JWT secret, else none. */
export function linkKey(urlSecret: string | undefined, jwtSecret: string | undefined): string | undefined {
  if (urlSecret) return urlSecret;
  return jwtSecret ? createHmac("sha256", jwtSecret).update("umos firmware download links").digest("hex") : undefined;
}
