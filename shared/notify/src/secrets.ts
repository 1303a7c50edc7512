import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { InvalidInputError } from "@umos/core";

/** Sealed text: the format's version, then base64 of IV (12 bytes), GCM tag (16 bytes) and ciphertext. */
const PREFIX = "v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Channel secrets (webhook signing secrets, SMTP passwords) at rest (docs/notifications.md, Secrets). */
export interface SecretBox {
  /** AES-256-GCM under the key derived from notifications.secretKey, bound to the channel: a sealed secret copied to another channel does not open. */
  seal(secret: string, channelId: string): string;
  open(sealed: string, channelId: string): string;
}

/**
 * The box for `notifications.secretKey`. The AES key is derived with HKDF-SHA256 (RFC 5869), so the
 * configured text of any length becomes 32 uniformly random-looking bytes and the key serves this use only.
 * Without a secretKey nothing can be sealed or opened: the error says which setting is missing.
 */
export function secretBox(secretKey: string | undefined): SecretBox {
  const key = secretKey ? Buffer.from(hkdfSync("sha256", secretKey, "umos", "notification channel secrets v1", 32)) : null;
  const needKey = () =>
    new InvalidInputError(
      "secret_key_missing",
      "channel secrets are stored encrypted: set notifications.secretKey (32+ characters, UMOS_NOTIFICATIONS__SECRET_KEY) on iot-api and iot-rules",
    );
  return {
    seal(secret, channelId) {
      if (!key) throw needKey();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(channelId));
      const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
    },
    open(sealed, channelId) {
      if (!key) throw needKey();
      const bytes = sealed.startsWith(PREFIX) ? Buffer.from(sealed.slice(PREFIX.length), "base64") : Buffer.alloc(0);
      try {
        if (bytes.byteLength < IV_BYTES + TAG_BYTES) throw new Error("too short");
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(channelId));
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        throw new InvalidInputError(
          "secret_unreadable",
          `the secret of channel '${channelId}' does not decrypt with notifications.secretKey: was the key changed? Set the channel's secret again`,
        );
      }
    },
  };
}
