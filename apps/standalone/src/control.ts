import { chmodSync, rmSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { Logger } from "@umos/core";
import type { Manifest } from "./backup";

/**
 * The running standalone's control socket: HTTP on a Unix socket in the data directory, readable
 * and writable by its user alone (0600), so no network client and no other user reaches it.
 * `POST /backup {"out": "/abs/file"}` writes a snapshot there (bun run backup sends it).
 */
export function serveControl(path: string, snapshot: (out: string) => Promise<Manifest>, log: Logger) {
  // The data directory is locked by this process: a socket file left here is a dead process's.
  rmSync(path, { force: true });
  const server = Bun.serve({
    unix: path,
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/backup") return Response.json({ error: "POST /backup only" }, { status: 404 });
      const body = (await request.json().catch(() => null)) as { out?: unknown } | null;
      const out = body?.out;
      if (typeof out !== "string" || !isAbsolute(out) || out.length > 4096) return Response.json({ error: "out: an absolute file path" }, { status: 400 });
      try {
        const manifest = await snapshot(out);
        log.info("backup written", { out, parts: manifest.parts });
        return Response.json(manifest);
      } catch (err) {
        log.warn("backup failed", { out, err });
        return Response.json({ error: err instanceof Error ? err.message : String(err) }, { status: 500 });
      }
    },
  });
  chmodSync(path, 0o600);
  return server;
}
