import { describe, expect, test } from "bun:test";
import { silentLogger } from "@umos/core";
import { resourceStack, serviceApp } from "./lifecycle";

describe("resourceStack", () => {
  test("closes in reverse order and names what it is closing while a close is in flight", async () => {
    const stack = resourceStack(silentLogger);
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    stack.use("db", () => void order.push("db"), "the database");
    stack.use(
      "server",
      async () => {
        order.push("server");
        await held;
      },
      "the server",
    );
    stack.use("unnamed", () => void order.push("unnamed"));
    const closing = stack.closeAll();
    await Bun.sleep(5);
    expect(stack.closing()).toBe("the server");
    release();
    await closing;
    expect(order).toEqual(["unnamed", "server", "db"]);
    expect(stack.closing()).toBeUndefined();
  });

  test("a failed close is logged and the rest still close", async () => {
    const warnings: string[] = [];
    const stack = resourceStack({ ...silentLogger, warn: (message: string) => void warnings.push(message) });
    const closed: string[] = [];
    stack.use("a", () => void closed.push("a"), "a");
    stack.use(
      "b",
      () => {
        throw new Error("boom");
      },
      "b",
    );
    await stack.closeAll();
    expect(closed).toEqual(["a"]);
    expect(warnings).toEqual(["error while closing b"]);
  });
});

describe("serviceApp", () => {
  test("reports the resource its stop waits on", async () => {
    let release!: () => void;
    const app = serviceApp(silentLogger, 0, async (resources) => {
      resources.use(null, () => new Promise<void>((resolve) => (release = resolve)), "the consumer");
      return 1234;
    });
    await app.start();
    expect(app.port).toBe(1234);
    const stopping = app.stop();
    await Bun.sleep(5);
    expect(app.pending?.()).toBe("the consumer");
    release();
    await stopping;
  });
});
