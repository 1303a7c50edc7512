import type { Vendor } from "@umos/contracts";
import type { Sql } from "./database";

export interface DeviceLogin {
  id: string;
  vendor: Vendor;
  secretHash: string | null;
  /** Devices this one speaks for (a DJI dock's aircraft). */
  subDevices: string[];
}

/** Devices' MQTT passwords, as hashes, and what the broker's login checks read. */
export interface CredentialRepository {
  /** Sets (or replaces) the device's password hash. */
  setSecretHash(deviceId: string, secretHash: string): Promise<void>;
  /** What the MQTT broker's webhooks need to decide about a device, in one query. */
  login(deviceId: string): Promise<DeviceLogin | undefined>;
}

export function credentialRepository(sql: Sql): CredentialRepository {
  return {
    /** Sets (or replaces) the device's password hash. */
    async setSecretHash(deviceId: string, secretHash: string): Promise<void> {
      await sql`
        insert into device_credentials (device_id, secret_hash) values (${deviceId}, ${secretHash})
        on conflict (device_id) do update set secret_hash = excluded.secret_hash, rotated_at = now()`;
    },

    /** What the MQTT broker's webhooks need to decide about a device, in one query. */
    async login(deviceId: string): Promise<DeviceLogin | undefined> {
      const [row] = await sql<DeviceLogin[]>`
        select d.id, d.vendor, c.secret_hash as "secretHash",
          coalesce((select array_agg(s.id) from devices s where s.parent_id = d.id), '{}') as "subDevices"
        from devices d left join device_credentials c on c.device_id = d.id
        where d.id = ${deviceId}`;
      return row;
    },
  };
}
