import { Type as T } from "@sinclair/typebox";

/** Firmware packages and the links devices download them by (docs/fleet.md, Firmware packages). */
export const FirmwareSection = T.Object(
  {
    /** Where iot-api keeps package files: a directory of its own, or a volume its replicas share. */
    dir: T.String({ minLength: 1, default: "data/firmware" }),
    /** The largest package an upload may bring. */
    maxBytes: T.Integer({ minimum: 1024, maximum: 17_179_869_184, default: 268_435_456 }),
    /** How long a download link works unless its request asks for less. */
    urlTtlSec: T.Integer({ minimum: 60, maximum: 30 * 86_400, default: 86_400 }),
    /**
     * Signs download links (HMAC-SHA256), at least 32 characters; replicas that serve the same links
     * share it. Unset: derived from auth.secret (HS256); with neither, links cannot be made.
     */
    urlSecret: T.Optional(T.String({ minLength: 32 })),
    /** The base URL devices reach iot-api at (https://iot.example.com); unset: the address the link was asked at. */
    publicUrl: T.Optional(T.String({ pattern: "^https?://[^/?#]+$" })),
  },
  { default: {}, additionalProperties: false },
);
