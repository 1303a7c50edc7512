import net from "node:net";

export interface TcpProxy {
  port: number;
  /** Connections open through the proxy now. */
  readonly connections: number;
  /** The network fails: every open connection is reset and new ones are dropped as they arrive. */
  cut(): void;
  /** The network is back: new connections go through again. */
  restore(): void;
  /** Holds every chunk this long in each direction: a slow link or a slow server. 0 turns it off. */
  setDelay(ms: number): void;
  stop(): Promise<void>;
}

/**
 * A TCP relay in front of a local port that a test can cut, restore and slow down: how the tests
 * take RabbitMQ or PostgreSQL away from a service, or make it slow, without touching the shared
 * broker or database that other tests use. On `listenHost` "0.0.0.0" it also lets containers on a
 * bridge network reach a service that listens on loopback only, and that admits loopback peers alone
 * (RabbitMQ's guest, PostgreSQL's trust).
 */
export async function startTcpProxy(
  targetPort: number,
  { targetHost = "127.0.0.1", listenHost = "127.0.0.1" }: { targetHost?: string; listenHost?: string } = {},
): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  let delayMs = 0;

  const server = net.createServer((client) => {
    if (down) return void client.resetAndDestroy();
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on("error", () => {});
    }
    relay(client, upstream);
    relay(upstream, client);
  });

  function relay(from: net.Socket, to: net.Socket): void {
    // Held chunks, oldest first. A chunk never overtakes one held before it, also when the delay is
    // turned off or shortened meanwhile: reordered bytes would break the protocol on the link, not
    // just slow it (a PostgreSQL connection then waits for an answer that never comes).
    const held: { chunk: Buffer; due: number }[] = [];
    let releasing = false;
    function release(): void {
      const now = performance.now();
      while (held.length > 0 && held[0]!.due <= now) if (!to.destroyed) to.write(held.shift()!.chunk);
      releasing = held.length > 0;
      if (releasing) setTimeout(release, held[0]!.due - now);
    }
    from.on("data", (chunk: Buffer) => {
      if (delayMs === 0 && held.length === 0) {
        if (!to.write(chunk)) {
          from.pause();
          to.once("drain", () => from.resume());
        }
        return;
      }
      const due = Math.max(performance.now() + delayMs, held.at(-1)?.due ?? 0);
      held.push({ chunk, due });
      if (!releasing) {
        releasing = true;
        setTimeout(release, due - performance.now());
      }
    });
  }

  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return Math.floor(sockets.size / 2);
    },
    cut() {
      down = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
