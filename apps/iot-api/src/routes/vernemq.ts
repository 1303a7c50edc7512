import { Elysia, t } from "elysia";
import { needs } from "../access";
import type { MqttAuth } from "@umos/mqtt-access";

/**
 * VerneMQ's webhook contract (docs/protocols.md §4, vmq_webhooks): one endpoint, the hook named in the
 * `vernemq-hook` header, the webhook token in the URL (`?token=`). Always HTTP 200 (VerneMQ logs
 * anything else as an error); a yes to a publish or subscribe carries `cache-control: max-age` so the
 * broker does not ask again for every packet. A yes to a login is never cached: a rotated password
 * must stop working at the next connect, not minutes later. A refused topic in a subscription gets
 * QoS 128 (MQTT 3) or 135 (MQTT 5) and the others stand.
 */
const NOT_ALLOWED = { result: { error: "not_allowed" } };

const Hook = t.Object(
  {
    client_id: t.String(),
    username: t.Optional(t.Nullable(t.String())),
    password: t.Optional(t.Nullable(t.String())),
    topic: t.Optional(t.String()),
    topics: t.Optional(t.Array(t.Object({ topic: t.String(), qos: t.Integer() }, { additionalProperties: true }))),
  },
  { additionalProperties: true },
);

export function vernemqRoutes(auth: MqttAuth, cacheSec: number) {
  return new Elysia({ tags: ["mqtt broker"] }).post(
    "/webhooks/vernemq",
    async ({ headers, body, set }) => {
      const hook = headers["vernemq-hook"] ?? "";
      const username = body.username ?? undefined;
      const allow = () => {
        if (cacheSec > 0) set.headers["cache-control"] = `max-age=${cacheSec}`;
        return { result: "ok" };
      };
      switch (hook) {
        case "auth_on_register":
        case "auth_on_register_m5":
          return (await auth.register(username, body.password ?? undefined, body.client_id)) ? { result: "ok" } : NOT_ALLOWED;
        case "auth_on_publish":
        case "auth_on_publish_m5":
          return (await auth.mayPublish(username, body.client_id, body.topic ?? "")) ? allow() : NOT_ALLOWED;
        case "auth_on_subscribe":
        case "auth_on_subscribe_m5": {
          const topics = body.topics ?? [];
          const allowed = await auth.maySubscribe(
            username,
            body.client_id,
            topics.map((s) => s.topic),
          );
          if (!allowed.some(Boolean)) return NOT_ALLOWED;
          if (allowed.every(Boolean)) return allow();
          const refused = hook === "auth_on_subscribe_m5" ? 135 : 128;
          const rewritten = topics.map((s, i) => ({ topic: s.topic, qos: allowed[i] ? s.qos : refused }));
          // v3 takes the rewrite at the top level, m5 under modifiers (vmq_webhooks_plugin.erl).
          return hook === "auth_on_subscribe_m5" ? { result: "ok", modifiers: { topics: rewritten } } : { result: "ok", topics: rewritten };
        }
        default:
          // Notification hooks (on_*) want an empty object; an unknown hook passes to the next plugin.
          return hook.startsWith("on_") ? {} : { result: "next" };
      }
    },
    {
      headers: t.Object({ "vernemq-hook": t.Optional(t.String()) }),
      body: Hook,
      detail: needs("webhook", { summary: "VerneMQ webhooks: auth_on_register, auth_on_publish, auth_on_subscribe (and _m5)" }),
    },
  );
}
