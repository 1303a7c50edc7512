import { createHmac, timingSafeEqual } from "node:crypto";
import type { Server } from "bun";
import { freePort } from "./services";

/** One call the receiver accepted: its signature held. */
export interface ReceivedCall {
  body: unknown;
  headers: Headers;
}

export interface TestWebhookReceiver {
  url: string;
  /** Accepted calls, in order. */
  calls: ReceivedCall[];
  /** Calls refused for a missing, wrong or stale signature. */
  refused: number;
  /** Stops listening: calls find the port closed. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): void;
  stop(): Promise<void>;
}

/**
 * A webhook endpoint on a free port that checks UMOS's signature as a customer's would
 * (docs/notifications.md, Verifying a webhook): X-UMOS-Signature is `v1=` and the hex HMAC-SHA256 of
 * `<X-UMOS-Timestamp>.<raw body>` under the shared secret, the timestamp within five minutes. A call
 * that passes is kept and answered 204; one that does not, 401.
 */
export async function startWebhookReceiver(secret: string): Promise<TestWebhookReceiver> {
  const port = await freePort();
  const calls: ReceivedCall[] = [];
  let refused = 0;
  const serve = (): Server<undefined> =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      async fetch(request) {
        const raw = await request.text();
        const timestamp = request.headers.get("x-umos-timestamp") ?? "";
        const expected = Buffer.from(`v1=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`);
        const given = Buffer.from(request.headers.get("x-umos-signature") ?? "");
        const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
        if (!fresh || expected.byteLength !== given.byteLength || !timingSafeEqual(expected, given)) {
          refused++;
          return new Response("bad signature", { status: 401 });
        }
        calls.push({ body: JSON.parse(raw), headers: request.headers });
        return new Response(null, { status: 204 });
      },
    });
  let server: Server<undefined> | undefined = serve();
  return {
    url: `http://127.0.0.1:${port}/hooks/umos`,
    calls,
    get refused() {
      return refused;
    },
    async down() {
      await server?.stop(true);
      server = undefined;
    },
    up() {
      server ??= serve();
    },
    async stop() {
      await server?.stop(true);
      server = undefined;
    },
  };
}
