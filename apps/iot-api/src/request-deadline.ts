import { UnavailableError, type Logger } from "@umos/core";
import { toHttpError } from "./errors";

/**
 * Every request answered within `deadlineMs`: past it the client gets 503 (retry-after 1) while the
 * work runs on, so a database or broker caught in a network cut costs a client seconds, not the
 * half minute a hung connect can take (fault suite). A command retried with its Idempotency-Key
 * then returns the command the first try created, if it did.
 */
export function withDeadline(handle: (request: Request) => Promise<Response>, deadlineMs: number, log: Logger) {
  return (request: Request): Promise<Response> => {
    let timer: Timer | undefined;
    const late = new Promise<Response>((resolve) => {
      timer = setTimeout(() => {
        const { status, body } = toHttpError(
          0,
          new UnavailableError(`no answer within ${deadlineMs} ms (api.requestTimeoutMs): a dependency is slow or unreachable; retry`),
          log,
        );
        resolve(Response.json(body, { status, headers: { "retry-after": "1" } }));
      }, deadlineMs);
    });
    return Promise.race([handle(request), late]).finally(() => clearTimeout(timer));
  };
}
