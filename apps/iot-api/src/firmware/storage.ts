import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { UmosError } from "@umos/core";

/** What an upload measured while it was written: checked by nobody but the caller's own sums. */
export interface StoredObject {
  size: number;
  sha256: string;
  md5: string;
}

/**
 * Where firmware files live: a small interface, so a second kind of storage (S3-compatible object
 * storage) can stand beside the directory one. Keys are package ids (UUIDs).
 */
export interface PackageStorage {
  /** Streams `body` into the object `key`, hashing as it goes; past `maxBytes` nothing is kept and it throws `body_too_large`. */
  put(key: string, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<StoredObject>;
  /** The object, to serve whole or by range; throws when it is gone. */
  open(key: string): Promise<Blob>;
  /** Removes the object; one already gone is no error. */
  remove(key: string): Promise<void>;
}

/** A body past its limit: HTTP 413. */
export class TooLargeError extends UmosError {
  constructor(message: string) {
    super("body_too_large", message, false);
  }
}

/**
 * Packages as files in one directory (standalone's data directory, or a volume iot-api's replicas
 * share). A file is written under a temporary name and renamed once complete, so a reader never sees
 * half of one and a crash leaves only a `.part` file behind.
 */
export function directoryStorage(dir: string): PackageStorage {
  const path = (key: string) => {
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error(`not a package key: ${key}`);
    return join(dir, key);
  };
  return {
    async put(key, body, maxBytes) {
      await mkdir(dir, { recursive: true });
      const final = path(key);
      const part = `${final}.part`;
      const sink = Bun.file(part).writer();
      const sha256 = new Bun.CryptoHasher("sha256");
      const md5 = new Bun.CryptoHasher("md5");
      let size = 0;
      try {
        for await (const chunk of body) {
          size += chunk.byteLength;
          if (size > maxBytes) throw new TooLargeError(`the package is more than ${maxBytes} bytes (firmware.maxBytes)`);
          sha256.update(chunk);
          md5.update(chunk);
          sink.write(chunk);
          // Written out as it comes, so a large upload is never held in memory.
          await sink.flush();
        }
        await sink.end();
        await rename(part, final);
      } catch (err) {
        await Promise.resolve(sink.end()).catch(() => {});
        await rm(part, { force: true });
        throw err;
      }
      return { size, sha256: sha256.digest("hex"), md5: md5.digest("hex") };
    },
    async open(key) {
      const file = Bun.file(path(key));
      if (!(await file.exists())) throw new Error(`firmware file ${key} is missing from ${dir}`);
      return file;
    },
    async remove(key) {
      await rm(path(key), { force: true });
    },
  };
}
