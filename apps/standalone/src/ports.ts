import { UmosError } from "@umos/core";

export interface PortClaim {
  /** What the port is for and the key or flag that moves it, for the one line an operator reads. */
  what: string;
  host: string;
  port: number;
}

/**
 * Every port standalone mode will listen on, checked before anything starts, so a taken one stops
 * start-up with one line naming it instead of half a platform. Port 0 (any free port) is skipped.
 */
export function checkPorts(claims: readonly PortClaim[]): void {
  const seen = new Map<number, PortClaim>();
  for (const claim of claims) {
    if (claim.port === 0) continue;
    const twin = seen.get(claim.port);
    if (twin) throw new UmosError("port_taken", `port ${claim.port} is configured twice: for ${twin.what} and for ${claim.what}`, false);
    seen.set(claim.port, claim);
    try {
      Bun.listen({ hostname: claim.host, port: claim.port, socket: { data() {} } }).stop(true);
    } catch {
      throw new UmosError("port_taken", `port ${claim.port} is already in use: it is the ${claim.what}; stop what holds it or choose another`, false);
    }
  }
}
