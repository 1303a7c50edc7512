import { eventually } from "./services";

/** Response bodies in tests: asserted field by field. */
// biome-ignore lint/suspicious/noExplicitAny: a test reads any field of an answer and lets the assertion judge it.
export type Json = any;

export interface JsonResponse {
  status: number;
  body: Json;
  headers: Headers;
}

/** An HTTP client for the REST API, as an app would use it, with its Bearer token. */
export function jsonClient(baseUrl: string, token?: string) {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: body === undefined ? { ...auth, ...headers } : { "content-type": "application/json", ...auth, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  return {
    request,
    get: (path: string) => request("GET", path),
    post: (path: string, body: unknown, headers?: Record<string, string>) => request("POST", path, body, headers),
    patch: (path: string, body: unknown, headers?: Record<string, string>) => request("PATCH", path, body, headers),
    put: (path: string, body: unknown) => request("PUT", path, body),
    delete: (path: string) => request("DELETE", path),
  };
}

/** A dashboard on the WebSocket API: subscribes, then collects the envelopes pushed to it. */
export async function wsDashboard(url: string, subscription: Record<string, unknown>, token?: string) {
  const socket = new WebSocket(token ? `${url}?token=${encodeURIComponent(token)}` : url);
  const frames: Json[] = [];
  socket.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  socket.send(JSON.stringify({ type: "subscribe", ...subscription }));
  await eventually(() => frames.some((f) => f.type === "subscribed"), 3000, "subscribed");
  return {
    socket,
    frames,
    /** The envelopes of the message frames so far, with their routing keys. */
    messages: (): Json[] => frames.filter((f) => f.type === "message").map((f) => ({ ...f.message, routingKey: f.routingKey })),
  };
}
