import type { DeviceBehaviour } from "./behaviour";

/** The REST API could not register a device; the message says what it answered. */
export class RegistrationError extends Error {
  override name = "RegistrationError";
}

/**
 * Registers a device through the REST API (docs/interfaces.md: REST) and returns its MQTT password. A device
 * an earlier run registered (409) gets a new password instead: only its hash is kept, so the old
 * one cannot be read back.
 */
export async function registerDevice(apiUrl: string, token: string, device: Pick<DeviceBehaviour, "id" | "vendor">, name?: string): Promise<string> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const created = await call(`${apiUrl}/api/v1/devices`, {
    method: "POST",
    headers,
    body: JSON.stringify({ id: device.id, vendor: device.vendor, ...(name ? { name } : {}) }),
  });
  if (created.status === 201) return ((await created.json()) as { credentials: { password: string } }).credentials.password;
  if (created.status !== 409) throw await failure(created, `registering ${device.id}`);
  const rotated = await call(`${apiUrl}/api/v1/devices/${encodeURIComponent(device.id)}/credentials`, { method: "POST", headers });
  if (!rotated.ok) throw await failure(rotated, `new credentials for ${device.id}`);
  return ((await rotated.json()) as { password: string }).password;
}

async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new RegistrationError(
      `cannot reach the API at ${new URL(url).origin} (${err instanceof Error ? err.message : String(err)}): is the platform running? (bun run dev, or --api)`,
    );
  }
}

async function failure(res: Response, what: string): Promise<RegistrationError> {
  const text = await res.text();
  const hint =
    res.status === 401
      ? ": pass an admin token with --token (bun run token -- --role admin)"
      : res.status === 403
        ? ": registering devices needs the admin role"
        : "";
  return new RegistrationError(`${what}: HTTP ${res.status} ${text}${hint}`);
}
