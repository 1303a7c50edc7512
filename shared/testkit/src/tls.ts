import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";

export interface TestCA {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate, PEM, for clients to trust. */
  ca: string;
  dispose(): Promise<void>;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const proc = Bun.spawn(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${err}`);
}

/**
 * A throwaway certificate authority and a server certificate it signed for localhost and
 * 127.0.0.1, so TLS tests run real handshakes against certificates no one else trusts.
 */
export async function createTestCA(): Promise<TestCA> {
  const dir = await mkdtemp(join(tmpdir(), "umos-ca-"));
  await openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=UMOS test CA", "-keyout", "ca.key", "-out", "ca.crt");
  await openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
  await Bun.write(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.crt",
  );
  // Brokers started as root drop to their own user (Mosquitto: mosquitto) before reading certificates.
  await chmod(dir, 0o755);
  for (const file of ["ca.crt", "server.crt", "server.key"]) await chmod(join(dir, file), 0o644);
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    ca: await Bun.file(join(dir, "ca.crt")).text(),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface TlsProxy {
  port: number;
  stop(): Promise<void>;
}

/**
 * Terminates TLS with the test CA's certificate and forwards the bytes to a plain local port: how
 * the tests give the shared RabbitMQ an amqps:// endpoint without reconfiguring the broker.
 */
export async function startTlsProxy(ca: TestCA, targetPort: number): Promise<TlsProxy> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: await Bun.file(ca.certFile).text(), key: await Bun.file(ca.keyFile).text() }, (client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
