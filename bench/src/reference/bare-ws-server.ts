/**
 * The fan-out's reference: a bare Bun WebSocket server with nothing of UMOS in it. Every client that
 * subscribes joins one native topic; a POST to /publish sends its body, framed as iot-ws frames a
 * message, to all of them with `server.publish`, uWebSockets' own loop. What it takes to reach the
 * last of 10,000 clients is the floor of this machine, whoever sends (docs/performance.md).
 *
 * Run as its own process by the bench; prints its port, then "ready".
 */
const TOPIC = "all";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request, srv) {
    const { pathname } = new URL(request.url);
    if (pathname === "/publish" && request.method === "POST") {
      const body = await request.text();
      srv.publish(TOPIC, `{"type":"message","routingKey":"iot.generic.event.property.report","message":${body}}`);
      return new Response(null, { status: 204 });
    }
    return srv.upgrade(request) ? undefined : new Response("expected a WebSocket upgrade", { status: 426 });
  },
  websocket: {
    message(ws, raw) {
      const { type, ...lists } = JSON.parse(String(raw)) as { type: string };
      if (type !== "subscribe") return;
      ws.subscribe(TOPIC);
      ws.send(JSON.stringify({ type: "subscribed", ...lists }));
    },
  },
});
console.log(server.port);
console.log("ready");
process.on("SIGTERM", () => {
  void server.stop(true);
  process.exit(0);
});
