import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { createVerifier } from "@umos/auth";
import { testToken, TEST_JWT_SECRET } from "@umos/testkit";
import { accessTable, createAccessCheck, needs, UndeclaredAccessError } from "./access";

const verify = createVerifier({ algorithm: "HS256", secret: TEST_JWT_SECRET, issuer: "umos", audience: "umos-api", clockToleranceSec: 0 });
const request = (path: string, token?: string) => new Request(`http://localhost:8080${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("the access table", () => {
  test("every route's declared access is read from the route itself", () => {
    const app = new Elysia()
      .get("/health", () => "ok", { detail: needs("public", { hide: true }) })
      .get("/api/v1/things/:id", () => "thing", { detail: needs("viewer") })
      .delete("/api/v1/things/:id", () => "gone", { detail: needs("admin") });
    const table = accessTable(app.routes);
    expect([...table]).toEqual([
      ["GET /health", "public"],
      ["GET /api/v1/things/:id", "viewer"],
      ["DELETE /api/v1/things/:id", "admin"],
    ]);
  });

  test("a route that declares nothing stops the API from starting, naming it", () => {
    const app = new Elysia().get("/api/v1/declared", () => "", { detail: needs("viewer") }).post("/api/v1/forgotten", () => "");
    expect(() => accessTable(app.routes)).toThrow(UndeclaredAccessError);
    expect(() => accessTable(app.routes)).toThrow("POST /api/v1/forgotten");
  });
});

describe("the check on the matched route", () => {
  const table = new Map([
    ["GET /health", "public" as const],
    ["GET /api/v1/things", "viewer" as const],
    ["POST /api/v1/things/:id/commands", "operator" as const],
    ["POST /api/v1/webhooks/vernemq", "webhook" as const],
  ]);

  test("a route's role is what the token must hold; a missing token is 401, a weaker role 403", async () => {
    const check = createAccessCheck(table, verify, undefined);
    await check(request("/health"), "/health");
    await expect(check(request("/api/v1/things"), "/api/v1/things")).rejects.toThrow("a Bearer token is required");
    await check(request("/api/v1/things", await testToken("viewer")), "/api/v1/things");
    await expect(
      check(
        new Request("http://localhost:8080/api/v1/things/a/commands", { method: "POST", headers: { authorization: `Bearer ${await testToken("viewer")}` } }),
        "/api/v1/things/:id/commands",
      ),
    ).rejects.toThrow("POST /api/v1/things/a/commands needs the operator role; the token has viewer");
  });

  test("a token in the URL is not taken on REST (it belongs to the WebSocket handshake alone)", async () => {
    const check = createAccessCheck(table, verify, undefined);
    await expect(check(request(`/api/v1/things?token=${await testToken("admin")}`), "/api/v1/things")).rejects.toThrow("a Bearer token is required");
  });

  test("a route the table does not know is refused, never waved through", async () => {
    const check = createAccessCheck(table, verify, undefined);
    await expect(check(request("/api/v1/other", await testToken("admin")), "/api/v1/other")).rejects.toThrow("is not open to anyone");
  });

  test("the broker webhook is closed without a configured token, and open only with the right one", async () => {
    const post = (token?: string) => new Request(`http://localhost:8080/api/v1/webhooks/vernemq${token ? `?token=${token}` : ""}`, { method: "POST" });
    await expect(createAccessCheck(table, verify, undefined)(post("anything"), "/api/v1/webhooks/vernemq")).rejects.toThrow("the broker webhook is off");
    const check = createAccessCheck(table, verify, "webhook-token-0123456789");
    await expect(check(post(), "/api/v1/webhooks/vernemq")).rejects.toThrow("needs its ?token=");
    await expect(check(post("webhook-token-0123456788"), "/api/v1/webhooks/vernemq")).rejects.toThrow("needs its ?token=");
    await check(post("webhook-token-0123456789"), "/api/v1/webhooks/vernemq");
  });

  test("with authentication off every caller may call every role's route", async () => {
    await createAccessCheck(
      table,
      null,
      undefined,
    )(new Request("http://localhost:8080/api/v1/things/a/commands", { method: "POST" }), "/api/v1/things/:id/commands");
  });
});
