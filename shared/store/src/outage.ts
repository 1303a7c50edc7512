import { UnavailableError } from "@umos/core";

/** postgres.js's own connection failures, and the socket errors it passes through. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs that say the server cannot serve now, not that the statement is wrong: class 08
 * (connection exception), 57P01-57P03 (shutting down, crashed, starting up), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/**
 * An error of a query, as UnavailableError when it says PostgreSQL is out of reach, so the bus waits
 * the outage out instead of counting it against the message (docs/design.md §3); anything else unchanged.
 */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof UnavailableError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !(CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return err;
  return new UnavailableError(`PostgreSQL unavailable: ${err instanceof Error ? err.message : code}`);
}

/** `fn` with its database outages reported as UnavailableError (asUnavailable). */
export function withOutagesAsUnavailable<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw asUnavailable(err);
    }
  };
}
