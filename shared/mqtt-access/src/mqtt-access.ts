import { sameSecret, verifySecret } from "@umos/auth";
import { GATEWAY_CLIENT_PREFIX } from "@umos/contracts";
import type { CredentialRepository, DeviceLogin } from "@umos/store";
import { adapterFor, routeTopic } from "@umos/vendors";

export interface GatewayAccount {
  username?: string;
  password?: string;
}

/**
 * Who may connect to the MQTT broker and touch which topics (docs/design.md §8): a device logs in with its
 * id as username and client id and its own password, publishes only its own vendor's device->cloud
 * topics, and subscribes only to its own topics; a gateway device (a DJI dock) also acts for its
 * sub-devices. The UMOS gateway's own account may do everything it needs: any topic.
 */
export function createMqttAuth(credentials: CredentialRepository, gateway: GatewayAccount) {
  const isGateway = (username: string | undefined, clientId: string) =>
    gateway.username !== undefined && username === gateway.username && clientId.startsWith(GATEWAY_CLIENT_PREFIX);

  /** The device behind a session, if the session is a device's own. */
  async function deviceOf(username: string | undefined, clientId: string): Promise<DeviceLogin | undefined> {
    if (!username || clientId !== username) return undefined;
    return credentials.login(username);
  }

  const speaksFor = (device: DeviceLogin, deviceId: string | undefined) =>
    deviceId !== undefined && (deviceId === device.id || device.subDevices.includes(deviceId));

  return {
    async register(username: string | undefined, password: string | undefined, clientId: string): Promise<boolean> {
      // The configuration refuses an empty gateway password at start-up; an empty one given is never a match.
      if (isGateway(username, clientId)) return gateway.password !== undefined && !!password && sameSecret(password, gateway.password);
      const device = await deviceOf(username, clientId);
      if (!device?.secretHash || !password) return false;
      return verifySecret(password, device.secretHash);
    },

    async mayPublish(username: string | undefined, clientId: string, topic: string): Promise<boolean> {
      if (isGateway(username, clientId)) return true;
      const device = await deviceOf(username, clientId);
      if (!device) return false;
      const route = routeTopic(topic);
      return route !== undefined && route.vendor === device.vendor && speaksFor(device, route.deviceId);
    },

    /** One answer per filter, in order. */
    async maySubscribe(username: string | undefined, clientId: string, filters: string[]): Promise<boolean[]> {
      if (isGateway(username, clientId)) return filters.map(() => true);
      const device = await deviceOf(username, clientId);
      if (!device) return filters.map(() => false);
      const adapter = adapterFor(device.vendor);
      return filters.map((filter) => speaksFor(device, adapter.deviceOfTopic(filter)));
    },
  };
}

export type MqttAuth = ReturnType<typeof createMqttAuth>;
