import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy";

/** A server that keeps what it receives, behind the proxy under test. */
let server: net.Server;
let received = "";
let proxy: TcpProxy;

beforeAll(async () => {
  server = net.createServer((socket) => socket.on("data", (chunk) => (received += chunk.toString())));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy = await startTcpProxy((server.address() as net.AddressInfo).port);
});

afterAll(async () => {
  await proxy.stop();
  server.close();
});

async function connect(): Promise<net.Socket> {
  const socket = net.connect(proxy.port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

test("bytes held by a delay are not overtaken by bytes sent after the delay is turned off or shortened", async () => {
  received = "";
  const socket = await connect();
  proxy.setDelay(200);
  socket.write("a");
  await Bun.sleep(20);
  proxy.setDelay(20);
  socket.write("b");
  await Bun.sleep(20);
  proxy.setDelay(0);
  socket.write("c");
  const until = Date.now() + 2000;
  while (received.length < 3 && Date.now() < until) await Bun.sleep(10);
  expect(received).toBe("abc");
  socket.destroy();
});

test("a delay holds the bytes at least that long", async () => {
  received = "";
  const socket = await connect();
  proxy.setDelay(150);
  const sent = performance.now();
  socket.write("x");
  while (received === "") await Bun.sleep(5);
  expect(performance.now() - sent).toBeGreaterThanOrEqual(140);
  proxy.setDelay(0);
  socket.destroy();
});
