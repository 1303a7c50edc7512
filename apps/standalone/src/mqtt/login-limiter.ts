/**
 * Failed MQTT logins counted per username over a window: once a username has failed `maxFailures`
 * times, its further logins are refused without checking the password until its window ends.
 * Checking a password costs a hash; a stranger trying one device's passwords at line rate would
 * otherwise spend the broker's CPU, and guess at leisure. Not counted per address: devices behind
 * one NAT (or all on loopback) share it, and one misconfigured device would lock out the others.
 */
export interface LoginLimits {
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { maxFailures: 10, windowMs: 60_000 };
/** Usernames remembered at most; past it the oldest go first (a stranger cycling names only forgets its own). */
const MAX_KEYS = 100_000;

export function createLoginLimiter(limits: LoginLimits = DEFAULT_LOGIN_LIMITS, now: () => number = Date.now) {
  const failures = new Map<string, { count: number; since: number }>();
  const live = (username: string) => {
    const entry = failures.get(username);
    if (entry && now() - entry.since >= limits.windowMs) {
      failures.delete(username);
      return undefined;
    }
    return entry;
  };
  return {
    /** Whether a login as this user is refused unchecked. */
    blocked(username: string | undefined): boolean {
      return username !== undefined && (live(username)?.count ?? 0) >= limits.maxFailures;
    },
    failed(username: string | undefined): void {
      if (username === undefined) return;
      const entry = live(username);
      if (entry) entry.count++;
      else {
        if (failures.size >= MAX_KEYS) failures.delete(failures.keys().next().value!);
        failures.set(username, { count: 1, since: now() });
      }
    },
    /** A good login forgets the username's failures. */
    succeeded(username: string | undefined): void {
      if (username !== undefined) failures.delete(username);
    },
  };
}

export type LoginLimiter = ReturnType<typeof createLoginLimiter>;
