/**
 * An application on the WebSocket API (docs/interfaces.md: WebSocket): connects with its token, subscribes, and
 * hands over every frame's text. Resolves once the server confirmed the subscription.
 */
export function openWsClient(url: string, token: string, subscription: Record<string, unknown>, onFrame: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    let subscribed = false;
    socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", ...subscription }));
    socket.onmessage = (event) => {
      const text = String(event.data);
      if (subscribed) return onFrame(text);
      if (!text.includes('"subscribed"')) return reject(new Error(`expected a subscription, got ${text}`));
      subscribed = true;
      resolve(socket);
    };
    socket.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
    socket.onclose = (event) => {
      if (!subscribed) reject(new Error(`WebSocket closed before subscribing: ${event.code} ${event.reason}`));
    };
  });
}

/** Closes the sockets and waits until each one is closed, so the next phase starts with none. */
export async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map((socket) =>
      socket.readyState === WebSocket.CLOSED
        ? undefined
        : new Promise<void>((resolve) => {
            socket.addEventListener("close", () => resolve());
            socket.close();
          }),
    ),
  );
}
