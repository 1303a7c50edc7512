/**
 * One HTTP/1.1 request written byte for byte on a socket: fetch() normalises the target (dot
 * segments, backslashes, absolute form) and sets Host itself, and the security suite needs to send
 * exactly what an attacker would. Answers the status code, or 0 if the server closed without one.
 */
export async function rawRequest(
  port: number,
  request: { method: string; target: string; host?: string; token?: string; body?: unknown; headers?: Record<string, string> },
): Promise<number> {
  const body = request.body === undefined ? "" : JSON.stringify(request.body);
  const lines = [
    `${request.method} ${request.target} HTTP/1.1`,
    `Host: ${request.host ?? `127.0.0.1:${port}`}`,
    "Connection: close",
    ...(request.token ? [`Authorization: Bearer ${request.token}`] : []),
    ...(body ? ["Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`] : []),
    ...Object.entries(request.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  let answer = "";
  const done = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        answer += chunk.toString("latin1");
      },
      close: () => done.resolve(),
      error: () => done.resolve(),
    },
  });
  socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
  const timer = setTimeout(() => socket.end(), 10_000);
  await done.promise;
  clearTimeout(timer);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
  return status ? Number(status[1]) : 0;
}
