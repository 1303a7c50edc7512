import { expect, test } from "bun:test";
import { listensOn } from "./listener";
import { freePort } from "./services";

test("a port is ours only while this process holds its listening socket", async () => {
  const port = await freePort();
  expect(listensOn(process.pid, port)).toBe(false);
  const server = Bun.serve({ hostname: "0.0.0.0", port, fetch: () => new Response("ok") });
  expect(listensOn(process.pid, port)).toBe(true);
  expect(listensOn(process.ppid, port)).toBe(false);
  server.stop(true);
  expect(listensOn(process.pid, port)).toBe(false);
});
