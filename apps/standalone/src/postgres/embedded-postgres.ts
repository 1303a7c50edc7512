import net from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from "@electric-sql/pglite-socket";
import type { Logger } from "@umos/core";
import { createProtocolQueue } from "./protocol-queue";

export interface EmbeddedPostgresOptions {
  /** Where PGlite keeps its cluster; created (initdb) on first start. */
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
}

export interface EmbeddedPostgres {
  /** What the services' `postgres.url` names: the `postgres` driver connects as to any PostgreSQL. */
  readonly url: string;
  /** The cluster as a gzipped tarball (PGlite's dumpDataDir), taken between transactions. */
  dump(): Promise<Blob>;
  close(): Promise<void>;
}

/**
 * PostgreSQL compiled to WebAssembly (PGlite) behind a socket, so the services, their `postgres`
 * driver and the migrations of shared/store run unchanged. One backend serves every connection in
 * turn (protocol-queue.ts). LISTEN/NOTIFY does not cross the socket; UMOS does not use it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const started = performance.now();
  const db = await PGlite.create({ dataDir: options.dataDir });
  log.info("embedded PostgreSQL (PGlite) open", { dataDir: options.dataDir, ms: Math.round(performance.now() - started) });
  // pglite-socket's handler types its queue as its own unexported class; ours keeps the same three methods.
  const protocolQueue = createProtocolQueue(db);
  const queryQueue = protocolQueue as unknown as PGLiteSocketHandlerOptions["queryQueue"];
  const handlers = new Set<PGLiteSocketHandler>();
  const server = net.createServer((socket) => {
    const handler = new PGLiteSocketHandler({ queryQueue, closeOnDetach: true });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener("close", forget);
    handler.addEventListener("error", forget);
    handler.attach(socket).catch(() => socket.destroy());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `postgres://postgres@${options.host}:${port}/postgres`,
    dump: () =>
      protocolQueue.exclusive(async () => {
        // Everything committed into the data files, so the tarball needs no WAL replay to be current.
        await db.exec("checkpoint");
        return db.dumpDataDir("gzip");
      }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...handlers].map((h) => h.detach(true)));
      await closed;
      await db.close();
    },
  };
}
