import { describe, expect, test } from "bun:test";
import { silentLogger } from "@umos/core";
import { withDeadline } from "./request-deadline";

describe("request deadline", () => {
  const request = new Request("http://umos/api/v1/devices");

  test("an answer in time passes through untouched", async () => {
    const handle = withDeadline(async () => new Response("ok", { status: 201 }), 50, silentLogger);
    const response = await handle(request);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("ok");
  });

  test("a request stuck on a dependency gets 503 with retry-after when the deadline passes, not later", async () => {
    const handle = withDeadline(() => new Promise<Response>(() => {}), 50, silentLogger);
    const started = performance.now();
    const response = await handle(request);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("api.requestTimeoutMs");
  });
});
