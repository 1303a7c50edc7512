import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { createTestCA, freePort, type TestCA } from "@umos/testkit";
import { root } from "./repo";

/** Runs the image's HEALTHCHECK command (scripts/healthcheck.ts) against a port; its exit code. */
async function healthcheck(port: number): Promise<number> {
  const proc = Bun.spawn(["bun", resolve(root, "scripts/healthcheck.ts")], {
    env: { ...process.env, HEALTHCHECK_PORT: String(port) },
    stdout: "ignore",
    stderr: "ignore",
  });
  return proc.exited;
}

const serve = (status: number, tls?: { cert: ReturnType<typeof Bun.file>; key: ReturnType<typeof Bun.file> }) =>
  Bun.serve({ hostname: "127.0.0.1", port: 0, tls, fetch: (req) => new Response(null, { status: new URL(req.url).pathname === "/health" ? status : 404 }) });

describe("the container HEALTHCHECK", () => {
  let ca: TestCA;
  beforeAll(async () => {
    ca = await createTestCA();
  });
  afterAll(() => ca.dispose());

  test("is healthy when /health answers 2xx, unhealthy on an error status or when nothing listens", async () => {
    const up = serve(200);
    const failing = serve(503);
    try {
      expect(await healthcheck(up.port!)).toBe(0);
      expect(await healthcheck(failing.port!)).toBe(1);
    } finally {
      await Promise.all([up.stop(true), failing.stop(true)]);
    }
    expect(await healthcheck(await freePort())).toBe(1);
  });

  test("asks a TLS listener over HTTPS (production config without tlsOffloaded)", async () => {
    const secure = serve(200, { cert: Bun.file(ca.certFile), key: Bun.file(ca.keyFile) });
    try {
      expect(await healthcheck(secure.port!)).toBe(0);
    } finally {
      await secure.stop(true);
    }
  });
});
