/**
 * A firmware update as a simulated device runs it (docs/protocols.md: Firmware updates): download the
 * file its command links to, check its size and digest, install it. Vendor-neutral: each vendor turns
 * these steps into its own progress frames.
 */

/** The firmware a device runs until an update says otherwise. */
export const FIRST_FIRMWARE = "1.0.0";

/** How a simulated device takes firmware updates. */
export interface FirmwareOptions {
  /** The version it runs at start; `FIRST_FIRMWARE` by default. */
  firmwareVersion?: string;
  /** How long installing takes, in ms: a real unit reboots for minutes, a test wants milliseconds. 200 by default. */
  installMs?: number;
  /** Accepts every update and downloads it, then fails to install it: a broken unit for a job's abort threshold. */
  failUpdates?: boolean;
}

/** What an update command names: the version, and the file with its size and digest. */
export interface Firmware {
  version: string;
  url: string;
  size: number;
  algorithm: Algorithm;
  /** The expected digest, lower-case hex. */
  digest: string;
}

type Algorithm = "sha256" | "md5";

/** One step of an update; `percent` is how much of the file has arrived. */
export type UpdateStep =
  | { percent: number; state: "downloading" | "verifying" | "installing" | "done" }
  | { percent: number; state: "failed"; message: string };

/** Hex digits per digest: what a well-formed command carries. */
const DIGEST_LENGTH: Record<Algorithm, number> = { sha256: 64, md5: 32 };

/**
 * A device gives up on a download that takes longer than this, so a job sees `failed` rather than
 * waiting for ever on a stalled server; a simulated fleet's files are small.
 */
const DOWNLOAD_TIMEOUT_MS = 60_000;

/** Checks what an update command carries; a message says what is wrong with it. */
export function firmwareOf(fields: { version: unknown; url: unknown; size: unknown; digest: unknown }, algorithm: Algorithm): Firmware | { message: string } {
  const { version, url, size, digest } = fields;
  if (typeof version !== "string" || version === "") return { message: "the version must be a non-empty string" };
  if (typeof url !== "string" || !/^https?:$/.test(URL.parse(url)?.protocol ?? "")) return { message: "the url must be an http(s) URL" };
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) return { message: "the size must be a positive number of bytes" };
  const digits = DIGEST_LENGTH[algorithm];
  if (typeof digest !== "string" || !new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(digest)) return { message: `the ${algorithm} must be ${digits} hex digits` };
  return { version, url, size, algorithm, digest: digest.toLowerCase() };
}

/**
 * Runs an update and yields its steps as they happen: `downloading` at 0 and at each quarter of the
 * file that arrives (at most four events), `verifying`, `installing`, then `done` after `installMs`; or
 * `failed` with the reason, which ends it. Never throws: a device reports what went wrong.
 */
export async function* updateFirmware(firmware: Firmware, options: FirmwareOptions): AsyncGenerator<UpdateStep> {
  const hasher = new Bun.CryptoHasher(firmware.algorithm);
  let received = 0;
  let percent = 0;
  yield { percent, state: "downloading" };
  try {
    for await (const bytes of download(firmware)) {
      received += bytes.byteLength;
      // Stops at once rather than fetch a file that cannot be the one the update names.
      if (received > firmware.size) throw new Error(`the file is larger than the ${firmware.size} bytes the update says`);
      hasher.update(bytes);
      const quarter = Math.floor((received / firmware.size) * 4) * 25;
      if (quarter > percent && quarter < 100) {
        percent = quarter;
        yield { percent, state: "downloading" };
      }
    }
  } catch (err) {
    yield { percent, state: "failed", message: `the download failed: ${err instanceof Error ? err.message : String(err)}` };
    return;
  }
  if (received !== firmware.size) {
    yield { percent, state: "failed", message: `the file has ${received} bytes, the update says ${firmware.size}` };
    return;
  }
  yield { percent: 100, state: "verifying" };
  const digest = hasher.digest("hex");
  if (digest !== firmware.digest) {
    yield { percent: 100, state: "failed", message: `the file's ${firmware.algorithm} is ${digest}, the update says ${firmware.digest}` };
    return;
  }
  yield { percent: 100, state: "installing" };
  await Bun.sleep(options.installMs ?? 200);
  if (options.failUpdates) yield { percent: 100, state: "failed", message: "the device was told to fail the update" };
  else yield { percent: 100, state: "done" };
}

/** The file's bytes as they arrive; throws on an HTTP error, a lost connection or the timeout. */
async function* download(firmware: Firmware): AsyncGenerator<Uint8Array> {
  const response = await fetch(firmware.url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  yield* response.body;
}
