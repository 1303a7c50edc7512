import { afterAll, beforeAll, expect, test } from "bun:test";
import { WS_CLOSE } from "@umos/contracts";
import { createBusFile, inProcess, testConfig, testToken, type TestBusFile } from "@umos/testkit";
import { createApp } from "../src/app";

let busFile: TestBusFile;
beforeAll(async () => {
  busFile = await createBusFile();
});
afterAll(() => busFile.dispose());

test("stopping iot-ws closes every client with 1001 and a reason, and the stop completes", async () => {
  const ws = inProcess(createApp, testConfig({ busUrl: busFile.url }), "iot-ws", { db: false });
  await ws.start();
  const token = await testToken("viewer");
  const clients = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${ws.port}/ws?token=${token}`);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      return { socket, closed: new Promise<CloseEvent>((resolve) => (socket.onclose = resolve)) };
    }),
  );
  const stopped = await Promise.race([ws.stop().then(() => "stopped"), Bun.sleep(5000).then(() => "still stopping after 5 s")]);
  expect(stopped).toBe("stopped");
  for (const { closed } of clients) {
    const event = await closed;
    expect(event.code).toBe(WS_CLOSE.shuttingDown);
    expect(event.reason).toBe("server shutting down");
  }
});
