import type { AedesOptions, AuthenticateError, Client } from "aedes";
import type { MqttAuth } from "@umos/mqtt-access";
import type { Logger } from "@umos/core";
import { createLoginLimiter, type LoginLimiter } from "./login-limiter";

/** Topic decisions remembered per connection, like VerneMQ caches a webhook's yes; bounded per client. */
const DECISIONS_PER_CLIENT = 10_000;
// CONNACK return code 5 "not authorized" (MQTT 3.1.1 §3.2.2.3); 3 "server unavailable".
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

/**
 * The embedded broker asks the same rules iot-api answers VerneMQ's webhooks with
 * (shared/mqtt-access), called in-process instead of over HTTP: a device logs in with its
 * id as client id and username and its own password, publishes only its own vendor's device->cloud
 * topics (past that, as VerneMQ does for MQTT 3.1.1, the connection is closed), and subscribes only
 * to its own topics (a refused filter gets 0x80 and the others stand). The gateway's account may do
 * everything. A decision is kept for the connection's life; iot-api closes the connection when the
 * device's password is rotated or the device removed, so a new login is checked afresh.
 */
export function brokerAuthHooks(
  auth: MqttAuth,
  log: Logger,
  limiter: LoginLimiter = createLoginLimiter(),
): Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeSubscribe"> {
  const sessions = new WeakMap<Client, { username: string | undefined; topics: Map<string, boolean> }>();

  function remember(client: Client, topic: string, allowed: boolean): void {
    const topics = sessions.get(client)?.topics;
    if (!topics) return;
    if (topics.size >= DECISIONS_PER_CLIENT) topics.clear();
    topics.set(topic, allowed);
  }

  return {
    authenticate(client, username, password, done) {
      const refuse = () => done(Object.assign(new Error("not authorized"), { returnCode: NOT_AUTHORIZED }) as AuthenticateError, false);
      if (limiter.blocked(username)) {
        log.warn("MQTT login refused unchecked: too many failed logins", { clientId: client.id, username });
        return refuse();
      }
      auth.register(username, password?.toString("utf8"), client.id).then(
        (ok) => {
          if (ok) {
            limiter.succeeded(username);
            sessions.set(client, { username, topics: new Map() });
            return done(null, true);
          }
          limiter.failed(username);
          log.info("MQTT login refused", { clientId: client.id, username });
          refuse();
        },
        (err: unknown) => {
          log.warn("MQTT login could not be checked", { clientId: client.id, err });
          done(Object.assign(new Error("credentials unavailable"), { returnCode: SERVER_UNAVAILABLE }) as AuthenticateError, false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      if (packet.topic.startsWith("$SYS/")) return done(new Error("$SYS/ topics are reserved"));
      // A will the broker sends after a crash comes without its client; the will belongs to its client id.
      const clientId = client?.id ?? (packet as { clientId?: string }).clientId ?? "";
      const session = client ? sessions.get(client) : undefined;
      const cached = session?.topics.get(packet.topic);
      if (cached !== undefined) return done(cached ? null : new Error(`not allowed to publish to ${packet.topic}`));
      auth.mayPublish(client ? session?.username : clientId, clientId, packet.topic).then(
        (ok) => {
          if (client) remember(client, packet.topic, ok);
          done(ok ? null : new Error(`not allowed to publish to ${packet.topic}`));
        },
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
      );
    },

    authorizeSubscribe(client, subscription, done) {
      auth.maySubscribe(sessions.get(client)?.username, client.id, [subscription.topic]).then(
        ([ok]) => done(null, ok ? subscription : null),
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
      );
    },
  };
}
