import { handshakeToken, type Principal, type Verifier } from "@umos/auth";
import type { UmosConfig } from "@umos/config";
import { WS_CLOSE } from "@umos/contracts";
import type { Server } from "bun";
import type { Metrics } from "@umos/observability";
import { UnauthorizedError, type Clock, type Probe } from "@umos/core";
import { createHttpGuard, healthResponse } from "@umos/runtime";
import type { createFanout, Client } from "./fanout";
import { errorFrame, parseClientMessage } from "./protocol";
import { tokenBucket } from "./rate-limit";
import { Subscriptions } from "./subscriptions";

/** Application close codes (RFC 6455 §7.4.2 leaves 4000-4999 to applications). */
const TOKEN_EXPIRED_CLOSE = WS_CLOSE.tokenExpired;
const POLICY_CLOSE = WS_CLOSE.policy;
/** Paths this port answers, the only values of the HTTP metrics' route label. */
const HTTP_ROUTES = new Set(["/ws", "/health", "/ready", "/metrics"]);

interface Connection extends Client {
  principal: Principal | null;
  bucket: ReturnType<typeof tokenBucket>;
  expiry?: Timer;
}

/**
 * Bun's native WebSocket server on `/ws` (docs/design.md §10 protocol), with /health and /ready beside it.
 * A client shows a token (`?token=` or `Authorization: Bearer`) to connect, any role may read, and
 * the connection closes when the token expires.
 */
export interface WebSocketServerOptions {
  config: UmosConfig["ws"];
  /** Host names answered besides the localhost names and the bound address (config key allowedHosts). */
  allowedHosts: string | undefined;
  fanout: ReturnType<typeof createFanout>;
  probes: Probe[];
  /** null: authentication is off, every client may read. */
  verify: Verifier | null;
  metrics: Metrics;
  /** Reads the time a connection's token expires against. */
  clock: Clock;
}

export function serveWebSockets({ config: options, allowedHosts, fanout, probes, verify, metrics, clock }: WebSocketServerOptions) {
  const guard = createHttpGuard(options.host, allowedHosts);

  async function answer(request: Request, pathname: string, server: Server<Connection>): Promise<Response | undefined> {
    if (pathname === "/ws") {
      let principal: Principal | null = null;
      try {
        principal = verify ? await verify(handshakeToken(request)) : null;
      } catch (err) {
        const message = err instanceof UnauthorizedError ? err.message : "the token cannot be verified";
        return Response.json({ error: { code: "unauthorized", message } }, { status: 401, headers: { "www-authenticate": 'Bearer realm="umos"' } });
      }
      // The seam methods are bound to the socket in open(), once it exists.
      const data: Connection = {
        subscriptions: new Subscriptions(),
        send: () => 0,
        close: () => {},
        bufferedAmount: () => 0,
        principal,
        bucket: tokenBucket(options.maxMessagesPerSecond),
      };
      return server.upgrade(request, { data }) ? undefined : new Response("expected a WebSocket upgrade", { status: 426 });
    }
    if (pathname === "/metrics") return metrics.response();
    return (await healthResponse(request, probes)) ?? new Response("not found", { status: 404 });
  }

  return Bun.serve<Connection>({
    hostname: options.host,
    port: options.port,
    tls: options.tls ? { cert: Bun.file(options.tls.certFile), key: Bun.file(options.tls.keyFile) } : undefined,
    async fetch(request, server) {
      const started = performance.now();
      const refused = guard.refuse(request);
      const pathname = refused ? "" : new URL(request.url).pathname;
      const response = refused ?? (await answer(request, pathname, server));
      // A successful upgrade has no Response: it is counted as 101 Switching Protocols.
      metrics.observeHttp(request.method, HTTP_ROUTES.has(pathname) ? pathname : "unmatched", response?.status ?? 101, started);
      return response;
    },
    websocket: {
      maxPayloadLength: options.maxMessageBytes,
      // We close slow clients ourselves, with a reason; Bun's own limit stays above ours.
      backpressureLimit: options.maxBufferedBytes * 2,
      open(ws) {
        ws.data.send = (frame) => ws.send(frame);
        ws.data.close = (code, reason) => ws.close(code, reason);
        ws.data.bufferedAmount = () => ws.getBufferedAmount();
        fanout.clients.add(ws.data);
        const expiresAt = ws.data.principal?.expiresAt;
        if (expiresAt !== undefined)
          ws.data.expiry = setTimeout(() => ws.close(TOKEN_EXPIRED_CLOSE, "token expired; reconnect with a new one"), Math.max(0, expiresAt - clock.now()));
      },
      message(ws, raw) {
        if (!ws.data.bucket.take()) return void ws.close(POLICY_CLOSE, `rate limit: at most ${options.maxMessagesPerSecond} messages a second`);
        const parsed = parseClientMessage(raw);
        if (!parsed.ok) return void ws.send(errorFrame(parsed.code, parsed.message));
        const { type, ...lists } = parsed.message;
        if (type === "unsubscribe") {
          ws.data.subscriptions.remove(lists);
          return void ws.send(JSON.stringify({ type: "unsubscribed", ...lists }));
        }
        if (!ws.data.subscriptions.add(lists)) return void ws.send(errorFrame("too_many_subscriptions", "at most 100 subscriptions per connection"));
        ws.send(JSON.stringify({ type: "subscribed", ...lists }));
      },
      close(ws) {
        clearTimeout(ws.data.expiry);
        fanout.clients.delete(ws.data);
      },
    },
  });
}
