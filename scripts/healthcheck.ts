/**
 * The container image's HEALTHCHECK (deployments/docker/Dockerfile): exits 0 when GET /health
 * answers 2xx on loopback, on port HEALTHCHECK_PORT, which each image target sets to its service's.
 * A listener with TLS on (the production config without tlsOffloaded) is asked over HTTPS without
 * verifying its certificate, which names the public host, not 127.0.0.1: this shows the process
 * answers, which is all liveness is.
 */
async function healthy(port: number): Promise<boolean> {
  for (const scheme of ["http", "https"]) {
    try {
      const res = await fetch(`${scheme}://127.0.0.1:${port}/health`, { tls: { rejectUnauthorized: false }, signal: AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      // Nothing answered in this scheme (a TLS listener drops a plain request): try the next.
    }
  }
  return false;
}

void healthy(Number(process.env.HEALTHCHECK_PORT)).then((ok) => process.exit(ok ? 0 : 1));
